"""Gradient-match loss against outer step: median and interquartile band per cell."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sharegrad.report import register_figure
from sharegrad.report.style import plt, save, sns

# iterations (the budget) is in curves CSVs written since aggregate-dlg keeps it; older ones hold one budget.
CELL = ["dataset", "model", "batch_size", "attack", "line_search", "labels", "iterations"]


@register_figure("dlg_loss_curves", section="dlg", inputs=["dlg_curves.csv"], subcategory="Images",
                 title="Gradient-match loss over the iterations")
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    curves = pd.read_csv(csv_paths[0])
    if "defense" in curves:
        curves = curves[curves.defense.astype(str) == "none"]
    attacks = sorted(curves.attack.unique())
    fig, axes = plt.subplots(1, len(attacks), figsize=(4.6 * len(attacks), 3.4), squeeze=False)
    for ax, attack in zip(axes[0], attacks):
        subset = curves[curves.attack == attack]
        cell = [c for c in CELL if c in subset]
        for key, group in subset.groupby(cell, dropna=False):
            info = dict(zip(cell, key))
            # A diverged attack's curve stops early; the band is over the attacks still running.
            budget = f" {info['iterations']:g} steps" if "iterations" in info else ""
            sns.lineplot(data=group, x="step", y="gradient_match_loss", estimator="median", errorbar=("pi", 50),
                         err_kws={"alpha": 0.2, "lw": 0}, ax=ax, legend=False,
                         label=f"{info['model']} bs{info['batch_size']} {info['line_search']} {info['labels']}{budget}")
        ax.set(yscale="log", xlabel="outer step", ylabel="gradient-match loss" if attack == "dlg" else "attack loss",
               title=f"{attack}: median and IQR over attacks")
        ax.legend(fontsize=6)
    save(fig, output)
