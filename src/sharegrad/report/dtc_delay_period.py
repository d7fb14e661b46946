"""Figure: final test accuracy against delay t and against period p, with and without compensation.

Points are means over seeds; a bar (one sd) only where two seeds or more were run.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sharegrad.report import register_figure
from sharegrad.report.dtc_common import SETUP_KEYS
from sharegrad.report.style import dodge, include, plain_ticks, plt, save


def _line(ax, part: pd.DataFrame, x: str, label: str, style: str, index: int) -> None:
    """Mean over seeds with a bar of one sd where there are two seeds or more; one seed is a point, no bar."""
    if part.empty:
        return
    stats = part.groupby(x).final_test_accuracy.agg(["mean", "std", "count"])
    spread = stats["std"].where(stats["count"] > 1)
    ax.errorbar(stats.index, 100 * stats["mean"], yerr=100 * spread, fmt=style, capsize=2, label=label, lw=1,
                transform=dodge(ax, index, 2))
    include(ax, stats.index, 100 * (stats["mean"] - spread.fillna(0)))
    include(ax, stats.index, 100 * (stats["mean"] + spread.fillna(0)))


@register_figure("dtc_delay_period", section="dtc", inputs=["dtc.csv"], subcategory="Distributed training",
                 title="Accuracy against delay and period")
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    table = pd.read_csv(csv_paths[0])
    table = table[table.defense == "none"]
    # one row of panels per setup and budget (epochs) and every other setting the setup states
    setups = list(table.groupby(SETUP_KEYS, sort=True, dropna=False))
    fig, axes = plt.subplots(len(setups), 2, figsize=(8, 3 * len(setups)), squeeze=False)
    for row, (key, part) in zip(axes, setups):
        setup = f"{key[0]}, {int(part.epochs.iloc[0])} epochs"
        sync = part[part.method == "sync"]
        for ax, x, method in ((row[0], "delay", "delayed"), (row[1], "period", "sparse")):
            shown = pd.concat([sync, part[part.method == method]])
            _line(ax, shown, x, f"{method} (compensated)", "o-", 0)
            _line(ax, part[part.method == f"{method}_nocomp"], x, f"{method}, no compensation", "s--", 1)
            if len(sync):
                ax.axhline(100 * sync.final_test_accuracy.mean(), color="grey", lw=0.8, ls=":", label="sync")
            ax.set(xscale="symlog", xlabel=f"{x} ({'t' if x == 'delay' else 'p'})", ylabel="final test accuracy (%)",
                   title=f"{setup}: accuracy against {x}")
            values = part.loc[part.method.isin([method, f"{method}_nocomp"]), x].tolist() + shown[x].tolist()
            plain_ticks(ax.xaxis, values)
            ax.margins(x=0.12, y=0.08)
            ax.autoscale_view()
            ax.legend(fontsize=7)
    save(fig, output)
