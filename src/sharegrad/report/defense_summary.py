"""Markdown summary of the defense sweep: where the attack stops, next to DLG's claims.

Every sentence about a level is derived from the verdicts of the measured table
(defense_table.summarise). For a defense with levels, "stops from L" means
L is the smallest measured level at which it, and every larger measured
level, has the verdict *stops*. The claims table below each cell is the claims
ledger's own judgement of DLG's defense claims on that cell's rows
(sharegrad.claims.ledger), in the ledger's words: one vocabulary, so this table
and the ledger never give two answers for one claim and config.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sharegrad.claims import claim
from sharegrad.pipeline import defenses as pipeline_defenses
from sharegrad.report import register_figure
from sharegrad.report.defense_table import CELL, describe_thresholds, level_label, markdown, read, sample
from sharegrad.report.sample import FEW_IMAGES, few_said
from sharegrad.report.style import write_text

NOISE = ("gaussian", "laplacian")
PRUNING = ("pruning", "pruning_global")
PRECISION = ("fp16", "bf16", "int8")


def stops_from(rows: pd.DataFrame) -> float | None:
    """Smallest measured level from which every larger measured level stops the attack; None if none."""
    rows = rows.sort_values("level")
    threshold = None
    for level, outcome in zip(reversed(rows.level.tolist()), reversed(rows.verdict.tolist())):
        if outcome != "stops":
            break
        threshold = level
    return threshold


def describe_levels(rows: pd.DataFrame, defense: str) -> str:
    threshold = stops_from(rows)
    levels = ", ".join(f"{level_label(defense, lv)}: {v}" for lv, v in zip(rows.level, rows.verdict))
    if threshold is None:
        head = f"never stops the attack at the measured levels (up to {rows.level.max():g})"
    else:
        head = f"stops the attack from {threshold:g} on"
    return f"**{defense}** {head} ({levels})."


# DLG's defense claims (experiments/claims.yaml), in the order the table lists them.
DEFENSE_CLAIMS = ("noise_high_stops", "noise_low_leaks", "precision_does_not_protect", "pruning_above_20_stops",
                  "pruning_below_20_leaks")


def claims(raw: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(statement, measured, verdict) per defense claim: the ledger's evaluation of these per-image rows."""
    from sharegrad.claims.ledger import evaluate_tables

    summary, _ = evaluate_tables({"defenses": raw}, [claim(c) for c in DEFENSE_CLAIMS])
    return [(row.statement, row.measured, row.says) for row in summary.itertuples()]


def section(cell: dict, rows: pd.DataFrame, raw: pd.DataFrame) -> str:
    baseline = rows[rows.defense == "none"]
    lines = [f"## {cell['model']}, batch size {cell['batch_size']}, {cell['attack']} "
             f"({cell['iterations']} L-BFGS steps, line search {cell['line_search']}, labels {cell['labels']}), "
             f"{cell['dataset']}\n"]
    if len(baseline):
        b = baseline.iloc[0]
        said = {"leaks": "leaks", "partly": "leaks partly", "stops": "fails"}[b.verdict]
        lines.append(f"Without a defense the attack {said} ({b.successes}/{b.images} images recovered, "
                     f"median SSIM {b.median_ssim:.3f}).")
        if b.attacks < FEW_IMAGES:
            lines.append(f"Every verdict below rests on {b.attacks} attack{'s' if b.attacks != 1 else ''} per level "
                         f"(fewer than {FEW_IMAGES}): it is the outcome on these images, not a rate.")
        if b.verdict != "leaks":
            lines.append("The baseline itself does not leak here, so no claim that a defense stops the attack can be "
                         "judged (the ledger says inconclusive): a defense cannot stop a leak that is not there.")
    else:
        lines.append("No baseline (defense none) in this cell, so the claims below cannot be judged.")
    for defense in [d for d in NOISE + PRUNING if d in set(rows.defense)]:
        lines.append("- " + describe_levels(rows[rows.defense == defense], defense))
    for defense in [d for d in PRECISION if d in set(rows.defense)]:
        r = rows[rows.defense == defense].iloc[0]
        few = few_said(int(r.attacks))
        lines.append(f"- **{defense}**: {r.verdict}{f', {few}' if few else ''} ({r.successes}/{r.images} recovered, "
                     f"median SSIM {r.median_ssim:.3f}).")
    others = sorted(set(rows.defense) - set(NOISE + PRUNING + PRECISION + ("none",)))
    for defense in others:
        lines.append("- " + describe_levels(rows[rows.defense == defense], defense))
    lines.append("\nDLG's claims on this cell, as the claims ledger judges them (`sharegrad claims`):\n")
    lines.append("| DLG's claim | measured | verdict |\n| --- | --- | --- |")
    for statement, measured, says in claims(raw):
        lines.append(f"| {statement} | {measured} | **{says}** |")
    return "\n".join(lines) + "\n"


@register_figure("defense_summary", section="defenses", inputs=["defenses.csv"], table=True, subcategory="Defenses",
                 title="Which defenses stop the attack, from which level (table)",
                 options=lambda config: pipeline_defenses.table_options(config))
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    table, summary, thresholds = read(csv_paths, options)
    per_cell = sorted(set(int(n) for n in summary.images))
    parts = [f"# Which defenses stop DLG\n\nMeasured on {', '.join(sorted(table.dataset.unique()))} "
             f"({len(table)} attacked images: {len(summary)} defense and level cells of "
             f"{' to '.join(str(n) for n in (per_cell[0], per_cell[-1]) if n is not None) if len(per_cell) > 1 else per_cell[0]}"
             f" image{'s' if per_cell[-1] != 1 else ''} each; config {options.get('config', 'unknown')}). "
             f"Verdicts per level: {describe_thresholds(thresholds)}; success = image MSE < "
             f"{table.success_mse.iloc[0]:g}. DLG's claims: as experiments/claims.yaml states them, judged by the "
             f"claims ledger under each claim's success tier.\n", sample(summary, options.get("notes")) + "\n"]
    cell_columns = [c for c in CELL if c in table]
    for key, rows in summary.groupby(CELL, sort=False):
        values = dict(zip(CELL, key))
        mask = pd.Series(True, index=table.index)
        for column in cell_columns:
            mask &= table[column].astype(str) == str(values[column])
        raw = table[mask]
        parts.append(section(values, rows, raw))
    parts.append("## Table\n\n" + markdown(summary) + "\n")
    write_text(output, "\n".join(parts))
