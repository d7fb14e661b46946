"""Markdown summary of the defense sweep: where the attack stops, next to DLG's claims.

Every sentence is derived from the verdicts of the measured table
(defense_table.summarise). For a defense with levels, "stops from L" means
L is the smallest measured level at which it, and every larger measured
level, has the verdict *stops*. A claim is "held", "did not hold", "not
tested" (no measured level covers it) or "inconclusive" (the baseline of that
cell does not leak, so there is nothing to stop).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sharegrad.claims import claim, paper_value
from sharegrad import pipeline_defenses
from sharegrad.report import register_figure
from sharegrad.report.defense_table import CELL, describe_thresholds, level_label, markdown, read, sample
from sharegrad.report.sample import FEW_IMAGES, few_said
from sharegrad.report.style import write_text

NOISE = ("gaussian", "laplacian")
PRUNING = ("pruning", "pruning_global")
PRECISION = ("fp16", "bf16", "int8")
# DLG (Zhu et al. 2019), section 5: statements and levels from experiments/claims.yaml.
NOISE_CLAIM, PRECISION_CLAIM, PRUNING_CLAIM = "noise_high_stops", "precision_does_not_protect", "pruning_above_20_stops"


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


def claim_all_stop(rows: pd.DataFrame, covered) -> tuple[str, str]:
    tested = rows[rows.level.map(covered)]
    if tested.empty:
        return "not tested", "no measured level in the claimed range"
    outcomes = ", ".join(f"{d} {lv:g}: {v}" for d, lv, v in zip(tested.defense, tested.level, tested.verdict))
    return ("held" if (tested.verdict == "stops").all() else "did not hold"), outcomes


def claims(summary: pd.DataFrame) -> list[tuple[str, str, str]]:
    noise = summary[summary.defense.isin(NOISE)]
    pruning = summary[summary.defense == "pruning"]
    fp16 = summary[summary.defense == "fp16"]
    noise_level, pruning_level = paper_value(NOISE_CLAIM), paper_value(PRUNING_CLAIM)
    noise_held, noise_measured = claim_all_stop(noise, lambda v: v >= noise_level)
    lower = noise[(noise.level < noise_level) & (noise.verdict == "stops")]
    if len(lower):
        noise_measured += "; lower variances stop it too: " + ", ".join(
            f"{d} {lv:g}" for d, lv in zip(lower.defense, lower.level))
    pruning_held, pruning_measured = claim_all_stop(pruning, lambda v: v > pruning_level)
    low_pruning = pruning[(pruning.level <= pruning_level) & (pruning.verdict == "stops")]
    if len(low_pruning):
        pruning_measured += f"; ratios <= {pruning_level:g} stop it too: " + ", ".join(f"{lv:g}" for lv in low_pruning.level)
    if fp16.empty:
        fp16_held, fp16_measured = "not tested", "no fp16 cell"
    else:
        fp16_held = "held" if (fp16.verdict == "leaks").all() else "did not hold"
        fp16_measured = ", ".join(f"fp16: {v} ({r:.0%} success)" for v, r in zip(fp16.verdict, fp16.rate))
    return [(claim(NOISE_CLAIM)["statement"], noise_measured, noise_held),
            (claim(PRECISION_CLAIM)["statement"] + " (fp16 measured here)", fp16_measured, fp16_held),
            (claim(PRUNING_CLAIM)["statement"], pruning_measured, pruning_held)]


def section(cell: dict, rows: pd.DataFrame) -> str:
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
            lines.append("The baseline itself does not leak here, so the claims below cannot be judged "
                         "(inconclusive): a defense cannot stop a leak that is not there.")
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
    lines.append("\n| DLG's claim | measured | verdict |\n| --- | --- | --- |")
    baseline_leaks = len(baseline) > 0 and baseline.iloc[0].verdict == "leaks"
    for claim, measured, held in claims(rows):
        if not baseline_leaks and held != "not tested":
            held = "inconclusive"
        lines.append(f"| {claim} | {measured} | **{held}** |")
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
             f"Verdicts: {describe_thresholds(thresholds)}; success = image MSE < {table.success_mse.iloc[0]:g}. "
             f"DLG's claims: Zhu et al. 2019, section 5, as experiments/claims.yaml states them (recalled, not "
             f"re-read from the paper).\n", sample(summary, options.get("notes")) + "\n"]
    for key, rows in summary.groupby(CELL, sort=False):
        parts.append(section(dict(zip(CELL, key)), rows))
    parts.append("## Table\n\n" + markdown(summary) + "\n")
    write_text(output, "\n".join(parts))
