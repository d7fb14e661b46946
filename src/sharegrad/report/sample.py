"""What a table's sample can and cannot show: one line under each table, from its own rows.

A rate of few images is the outcome on those images, not an estimate: with 1 image a
95% interval spans 0-79% or 21-100%. Each table prints one line that names the cells
whose sample bounds their rate (``FEW_IMAGES`` images or more) and those whose sample
cannot, with the grid's ``note`` (the config's words on what the cell is there to show).
"""

from __future__ import annotations

from sharegrad.pipeline.dlg import NOTE_KEYS
from sharegrad.report.stats import wilson_interval

# Below this many images a cell's rate (and a verdict resting on it) is called the outcome on those images.
FEW_IMAGES = 5


def _same(a, b) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def note_for(row: dict, notes: list[dict]) -> str | None:
    """The note of the grid ``row``'s cell came from (matched on every NOTE_KEYS column the row has)."""
    for note in notes or []:
        if all(_same(row[k], note[k]) for k in NOTE_KEYS if k in row and k in note):
            return note["note"]
    return None


def images_said(n: int) -> str:
    return f"{n} image{'s' if n != 1 else ''}"


def few_said(attacks: int) -> str:
    """How a verdict or rate of ``attacks`` attacks is qualified where it is below FEW_IMAGES."""
    return f"{attacks} attack{'s' if attacks != 1 else ''} only" if attacks < FEW_IMAGES else ""


def sample_line(cells: list[tuple[str, int, int, int, str | None]], unit: str = "images", run: str = "attack") -> str:
    """One line: ``cells`` are (label, successes, images, attacks, note). A cell of fewer than FEW_IMAGES
    attacks cannot judge a rate: the images of one attack (a batch) are one run, not independent draws."""
    can, cannot = [], []
    for label, successes, images, attacks, note in cells:
        low, high = wilson_interval(successes, images)
        runs = "" if attacks == images else f" in {attacks} {run}{'s' if attacks != 1 else ''}"
        said = (f"{label} ({successes}/{images}{runs}, 95% interval {low:.0%}-{high:.0%}"
                + (f"; {note}" if note else "") + ")")
        (can if attacks >= FEW_IMAGES else cannot).append(said)
    parts = []
    if can:
        parts.append("it bounds the rate of " + "; ".join(can))
    if cannot:
        parts.append(f"it cannot judge a rate (fewer than {FEW_IMAGES} {run}s: the outcome on those {unit} only) for "
                     + "; ".join(cannot))
    return "**What this sample can and cannot show:** " + ("; ".join(parts) if parts else "no cells") + "."


def outcome(row) -> str:
    """What a reconstruction panel says of its image: diverged, recovered (the run's success test), or not."""
    if getattr(row, "status", None) == "diverged":
        return "diverged"
    return "recovered" if bool(row.success) else "not recovered"


def seeds_line(counts) -> str:
    """The line of a training table: how many seeds each method ran, and what that allows."""
    counts = sorted({int(c) for c in counts})
    if not counts:
        return "**What this sample can and cannot show:** no runs."
    said = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]} to {counts[-1]}"
    if counts[0] < 2:
        return (f"**What this sample can and cannot show:** {said} seed(s) per row: each row with one seed is one run's "
                "accuracy, with no spread to compare against, so it shows that each method trains, not whether a "
                "difference between rows (from synchronous SGD, or a defense's cost) is larger than run-to-run variation.")
    return (f"**What this sample can and cannot show:** {said} seeds per row: a difference smaller than about two "
            "standard deviations of the rows compared cannot be told from run-to-run variation.")
