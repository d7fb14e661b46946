"""Markdown table: one row per cell (model x batch size x attack x line search x labels x budget x defense).

Success = image MSE below the run's threshold after matching, and the attack
not diverged; diverged attacks count as failures, never dropped. The budget
(``iterations``, outer L-BFGS steps) and the defense are part of the cell and
shown, so two budgets or two defenses in one CSV never merge into one row.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sharegrad.report import register_figure
from sharegrad.report.stats import rate_with_interval
from sharegrad.report.style import write_text

CELL = ["dataset", "model", "batch_size", "attack", "line_search", "labels", "iterations", "defense", "level"]


def summarise(table: pd.DataFrame, cell: list[str] = CELL) -> pd.DataFrame:
    rows = []
    cell = [c for c in cell if c in table]  # a CSV from before a column existed has one value of it
    for key, group in table.groupby(cell, sort=True, dropna=False):
        attacks = group.drop_duplicates("attack_index")
        successes = group[group.success.astype(bool)]
        rows.append({
            **dict(zip(cell, key)),
            "images": len(group),
            "success rate [95% CI]": rate_with_interval(int(group.success.astype(bool).sum()), len(group)),
            "diverged attacks": f"{int((attacks.status == 'diverged').sum())}/{len(attacks)}",
            "median MSE": f"{group.mse.median():.2e}",
            "median PSNR (dB)": f"{group.psnr.replace([float('inf')], 99.0).median():.1f}",
            "label accuracy": f"{group.label_correct.astype(bool).mean():.0%}",
            "median iters to success": (f"{successes.first_success_step.median():.0f}" if len(successes) else "-"),
            "wall s / attack": f"{attacks.wall_time_s.median():.1f}",
            "ms / evaluation": f"{1000 * attacks.seconds_per_evaluation.median():.1f}",
        })
    return pd.DataFrame(rows)


@register_figure("dlg_summary")
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    table = pd.read_csv(csv_paths[0])
    summary = summarise(table)
    threshold = table.success_mse.iloc[0]
    devices = ", ".join(sorted(table.device.unique()))
    text = (f"# DLG on images: summary\n\n"
            f"Success: image MSE < {threshold:g} on [0, 1] images after optimal matching, attack not diverged. "
            f"Interval: 95% Wilson. iterations: the attack's budget (outer L-BFGS steps). Device(s): {devices}. Config: {options.get('config', 'unknown')}.\n\n"
            + summary.to_markdown(index=False) + "\n")
    write_text(output, text)
