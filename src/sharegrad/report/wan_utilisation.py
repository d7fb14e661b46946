"""Figure: compute utilisation against link bandwidth for every method: lines from the analytic model
(``wan/model.py``), the measured points on them.

Utilisation is the fraction of a step spent computing, compute / step time, at the table's latency. Each
method's line is the model fed that method's bytes per sync (as the link carried them), its delay and
period, and a compute time per step: the stated one where the run was emulated at paper scale (payload
and compute per step set), the measured one otherwise. Points: the measured scalability (one rank's step
over the N-rank step), which is the utilisation when one rank's step is its compute. Without emulated
rows, the paper-scale projection (``wan_projection.csv``) gives the lines of its methods.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sharegrad.report import register_figure
from sharegrad.report.style import palette, save
from sharegrad.wan import model as wan_model

BANDWIDTHS = np.geomspace(1, 1e5, 80)  # Mb/s


def _pattern(row) -> wan_model.Pattern:
    return wan_model.Pattern(int(row.pattern_delay), int(row.pattern_period), int(row.pattern_rounds),
                             int(row.pattern_wire_bytes))


def _panels(points: pd.DataFrame, projection: pd.DataFrame, latency: float) -> list[tuple[str, list]]:
    """(title, [(method name, pattern, compute s, measured (bandwidth, scalability) points)]) per panel."""
    at = points[points.latency_ms == latency]
    stated = pd.to_numeric(at.get("compute_s", pd.Series(math.nan, index=at.index)), errors="coerce")
    panels = []
    for emulated in (True, False):
        part = at[stated.notna() == emulated]
        if part.empty:
            continue
        lines = []
        for name, rows in part.groupby("name", sort=False):
            first = rows.iloc[0]
            compute = float(first.compute_s) if emulated else float(rows.compute_per_step_s.median())
            lines.append((name, _pattern(first), compute, rows[["bandwidth_mbps", "scalability"]].to_numpy()))
        first = part.iloc[0]
        if emulated:
            title = (f"emulated at paper scale: {int(first.world_size)} ranks, "
                     f"{first.payload_parameters / 1e6:.1f}M parameters, {first.compute_s:g} s compute/step")
        else:
            title = f"{first.model} at its own size, {int(first.world_size)} ranks, measured compute/step"
        panels.append((title, lines))
    if not any(title.startswith("emulated") for title, _ in panels) and len(projection):
        p = projection.iloc[0]
        lines = [(row["name"], wan_model.Pattern(int(row.delay), int(row.period), 1, int(row.wire_mb_per_sync * 1e6)),
                  float(row.compute_s_per_step), np.empty((0, 2))) for _, row in projection.iterrows()]
        panels.insert(0, (f"projected (model only): {int(p.servers)} servers, {p.parameters / 1e6:.1f}M "
                          f"parameters, {p.compute_s_per_step:g} s compute/step", lines))
    return panels


@register_figure("wan_utilisation", section="wan", inputs=["wan.csv", "wan_projection.csv"], subcategory="WAN",
                 title="Compute utilisation against bandwidth for every method, modelled, with the measured points",
                 options=lambda config: {"latency_ms": config["wan"]["table"]["latency_ms"]})
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    points, projection = pd.read_csv(csv_paths[0]), pd.read_csv(csv_paths[1])
    latency = float(options.get("latency_ms", 300))
    panels = _panels(points, projection, latency)
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(7.4 * max(1, len(panels)), 4.4), squeeze=False,
                             sharey=True)
    paper_bandwidth = float(projection.bandwidth_mbps.iloc[0]) if len(projection) else None
    for ax, (title, lines) in zip(axes[0], panels):
        colors = palette(len(lines))
        for i, (color, (name, pattern, compute, measured)) in enumerate(zip(colors, lines)):
            model = [wan_model.utilisation(compute, pattern, latency, b) for b in BANDWIDTHS]
            style = ("-", "--", ":")[i // 10 % 3]  # the palette repeats its colours after ten
            ax.plot(BANDWIDTHS, model, style, color=color, lw=1.2, label=name)
            if len(measured):
                ax.plot(measured[:, 0], measured[:, 1], "o", color=color, ms=5, mec="black", mew=0.5)
        if paper_bandwidth:
            ax.axvline(paper_bandwidth, color="grey", lw=0.6, ls=":")
        ax.set(xscale="log", xlabel="bandwidth (Mb/s)", ylim=(0, 1.05), title=title)
        ax.title.set_fontsize(7)
        ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    if not panels:
        axes[0][0].text(0.5, 0.5, f"no point at {latency:g} ms", ha="center", transform=axes[0][0].transAxes)
    axes[0][0].set_ylabel("compute utilisation (lines: model; points: measured scalability)")
    fig.suptitle(f"Compute utilisation against bandwidth at {latency:g} ms (dotted: the paper's bandwidth)",
                 fontsize=8, y=1.02)
    save(fig, output)
