"""Markdown table: one row per cell (model x batch size x attack x line search x labels x budget x defense).

Every image is counted under the two success tiers of the claims file, through
``sharegrad.claims.tiers`` (the one test every table, grid and the ledger use):
*pixel-exact*, image MSE below the run's threshold after matching (the success
rate), and *recognisable*, LPIPS at most the claims file's bound; under both a
diverged attack counts as a failure, never dropped. The budget
(``iterations``, outer L-BFGS steps) and the defense are part of the cell and
shown, so two budgets or two defenses in one CSV never merge into one row.

Pixel-exact success suits DLG, which matches gradients until the image is
recovered; Inverting Gradients (cosine distance, a TV prior, Adam) is built to
give a recognisable image, not a pixel-exact one, so every cell is also judged
by the recognisable tier, shown next to the pixel-exact rate with the median
PSNR, SSIM and LPIPS.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sharegrad.pipeline import dlg as pipeline_dlg
from sharegrad.claims import tiers
from sharegrad.metrics.iterations import iterations_to_success
from sharegrad.report import register_figure
from sharegrad.report.sample import few_said, note_for, sample_line
from sharegrad.report.stats import rate_with_interval
from sharegrad.report.style import write_text

CELL = ["dataset", "model", "batch_size", "attack", "line_search", "labels", "iterations", "defense", "level"]


def tier_rate(group: pd.DataFrame, tier: str) -> str:
    """Rate of the images recovered under ``tier`` (claims.tiers), with its interval; n/a where the rows lack
    what the tier needs (a run without LPIPS weights has no recognisable tier)."""
    if not tiers.has_tier(group, tier):
        return "n/a"
    return rate_with_interval(int(tiers.recovered(group, tier).sum()), len(group))


def _median(series, spec: str) -> str:
    values = pd.to_numeric(series, errors="coerce").replace([float("inf")], 99.0).dropna()
    return format(values.median(), spec) if len(values) else "n/a"


def summarise(table: pd.DataFrame, cell: list[str] = CELL) -> pd.DataFrame:
    rows = []
    bound = tiers.recognisable_lpips()
    cell = [c for c in cell if c in table]  # a CSV from before a column existed has one value of it
    for key, group in table.groupby(cell, sort=True, dropna=False):
        attacks = group.drop_duplicates("attack_index")
        successes = group[group.success.astype(bool)]
        few = few_said(len(attacks))
        rows.append({
            **dict(zip(cell, key)),
            "images": len(group),
            # fewer than FEW_IMAGES attacks: the outcome on those images, not a rate (the line above the table)
            "attacks": f"{len(attacks)}" + (" (few)" if few else ""),
            # the pixel-exact tier's rate (the column keeps the name the other tables and their readers use)
            "success rate [95% CI]": tier_rate(group, tiers.PIXEL_EXACT),
            f"{tiers.LABELS[tiers.RECOGNISABLE]} (LPIPS <= {bound:g}) [95% CI]": tier_rate(group, tiers.RECOGNISABLE),
            "diverged attacks": f"{int((attacks.status == 'diverged').sum())}/{len(attacks)}",
            "median MSE": f"{group.mse.median():.2e}",
            "median PSNR (dB)": _median(group.psnr, ".1f"),
            "median SSIM": _median(group.get("ssim", pd.Series(dtype=float)), ".3f"),
            "median LPIPS": _median(group.get("lpips", pd.Series(dtype=float)), ".3f"),
            "label accuracy": f"{group.label_correct.astype(bool).mean():.0%}",
            "median iters to success": iterations_to_success(group).value_text(),
            "wall s / attack": f"{attacks.wall_time_s.median():.1f}",
            "ms / evaluation": f"{1000 * attacks.seconds_per_evaluation.median():.1f}",
        })
    return pd.DataFrame(rows)


@register_figure("dlg_summary", section="dlg", inputs=["dlg.csv"], table=True, subcategory="Images",
                 title="Summary per cell: success rate, MSE, labels, time (table)",
                 options=lambda config: pipeline_dlg.summary_options(config))
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    table = pd.read_csv(csv_paths[0])
    summary = summarise(table)
    bound = tiers.recognisable_lpips()
    threshold = table.success_mse.iloc[0]
    devices = ", ".join(sorted(table.device.unique()))
    cells = []
    for key, group in table.groupby([c for c in CELL if c in table], sort=True, dropna=False):
        row = dict(zip([c for c in CELL if c in table], key))
        label = (f"{row['model']} batch {row['batch_size']} {row['attack']}"
                 + (f" {row['iterations']:g} steps" if "iterations" in row else ""))
        cells.append((label, int(tiers.recovered(group, tiers.PIXEL_EXACT).sum()), len(group),
                      group.attack_index.nunique(),
                      note_for(row, options.get("notes"))))
    text = (f"# DLG on images: summary\n\n"
            f"Two success tiers (experiments/claims.yaml, `tiers`). Success rate: the pixel-exact tier, image MSE "
            f"< {threshold:g} on [0, 1] images after optimal matching, attack not diverged. Recognisable: LPIPS "
            f"(AlexNet) <= {bound:g}, attack not diverged: the tier for attacks built to give a recognisable image "
            f"rather than a pixel-exact one (Inverting Gradients). "
            f"Interval: 95% Wilson. iterations: the attack's budget (outer steps). Device(s): {devices}. "
            f"Config: {options.get('config', 'unknown')}.\n\n"
            + sample_line(cells) + "\n\n"
            + summary.to_markdown(index=False) + "\n")
    write_text(output, text)
