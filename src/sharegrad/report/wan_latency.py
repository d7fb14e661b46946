"""Figure: scalability against link latency, one panel per bandwidth; measured points and the model's line."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sharegrad.report import register_figure
from sharegrad.report.style import palette, plain_ticks, save
from sharegrad.report.wan_common import machine_note, model_curve


@register_figure("wan_latency", section="wan", inputs=["wan.csv"], subcategory="WAN",
                 title="Scalability against link latency, measured and modelled")
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    table = pd.read_csv(csv_paths[0])
    bandwidths = sorted(table.bandwidth_mbps.unique())
    names = list(dict.fromkeys(table.name))
    top = max(1.15, 1.05 * table.scalability.max())  # above 1 only when the load moved between the two runs
    colors = dict(zip(names, palette(len(names))))
    fig, axes = plt.subplots(1, len(bandwidths), figsize=(3.6 * len(bandwidths), 3.4), squeeze=False, sharey=True)
    for ax, bandwidth in zip(axes[0], bandwidths):
        part = table[table.bandwidth_mbps == bandwidth]
        line_x = np.concatenate([[0.0], np.geomspace(1, max(10.0, part.latency_ms.max()), 60)])
        for name in names:
            points = part[part.name == name].sort_values("latency_ms")
            if points.empty:
                continue
            ax.plot(points.latency_ms, points.scalability, "o", color=colors[name], ms=4, label=name)
            ax.plot(line_x, model_curve(points, line_x, [bandwidth] * len(line_x)), "-", color=colors[name], lw=1)
        ax.set(xscale="symlog", xlabel="latency (ms)", title=f"{bandwidth:g} Mb/s", ylim=(0, top))
        ax.axhline(1.0, color="grey", lw=0.6, ls=":")
        plain_ticks(ax.xaxis, table.latency_ms.unique())  # the measured values, as plain numbers
    axes[0][0].set_ylabel("scalability = thr(N) / (N thr(1))")
    axes[0][-1].legend(fontsize=6, loc="upper right")
    fig.suptitle(f"Scalability against latency: points measured, lines the model ({machine_note(table)})",
                 fontsize=8)
    save(fig, output)
