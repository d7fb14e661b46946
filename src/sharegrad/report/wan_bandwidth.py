"""Figure: scalability against link bandwidth, one panel per latency; measured points and the model's line."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sharegrad.report import register_figure
from sharegrad.report.style import palette, plain_ticks, save
from sharegrad.report.wan_common import machine_note, model_curve


@register_figure("wan_bandwidth", section="wan", inputs=["wan.csv"], subcategory="WAN",
                 title="Scalability against link bandwidth, measured and modelled")
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    table = pd.read_csv(csv_paths[0])
    latencies = sorted(table.latency_ms.unique())
    names = list(dict.fromkeys(table.name))
    top = max(1.15, 1.05 * table.scalability.max())  # above 1 only when the load moved between the two runs
    colors = dict(zip(names, palette(len(names))))
    cols = min(4, len(latencies))
    rows = -(-len(latencies) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.2 * rows), squeeze=False, sharey=True)
    low, high = table.bandwidth_mbps.min(), table.bandwidth_mbps.max()
    line_x = np.geomspace(low / 2, high * 2, 60)
    for ax, latency in zip(axes.flat, latencies):
        part = table[table.latency_ms == latency]
        for name in names:
            points = part[part.name == name].sort_values("bandwidth_mbps")
            if points.empty:
                continue
            ax.plot(points.bandwidth_mbps, points.scalability, "o", color=colors[name], ms=4, label=name)
            ax.plot(line_x, model_curve(points, [latency] * len(line_x), line_x), "-", color=colors[name], lw=1)
        ax.set(xscale="log", xlabel="bandwidth (Mb/s)", title=f"latency {latency:g} ms", ylim=(0, top))
        ax.axhline(1.0, color="grey", lw=0.6, ls=":")
        plain_ticks(ax.xaxis, table.bandwidth_mbps.unique())  # the measured values, as plain numbers
    for ax in axes.flat[len(latencies):]:
        ax.axis("off")
    for row in axes:
        row[0].set_ylabel("scalability")
    axes.flat[0].legend(fontsize=6, loc="lower right")
    fig.suptitle(f"Scalability against bandwidth: points measured, lines the model ({machine_note(table)})",
                 fontsize=8)
    save(fig, output)
