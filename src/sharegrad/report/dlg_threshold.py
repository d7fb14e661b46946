"""How firm each image verdict is: the success rate against the threshold that decides it.

One panel per success tier (``sharegrad.claims.tiers``): the rate of images with MSE below a
threshold (log axis), and the rate with LPIPS at most a threshold, each with its 95% Wilson
interval, one line per cell of the CSV(s), the claim's threshold marked (the run's
``success_mse``, the claims file's recognisable bound). A curve that is flat around the mark is a
firm verdict; one that climbs just past it says the verdict turns on where the threshold is drawn.
An image counts exactly as the tables count it (``tiers.recovered``: MSE strictly below, LPIPS at
most; a diverged attack never recovers, and its images stay in the denominator).

The rate is a step function of the threshold; it is evaluated at every image's own value inside
the range as well as on a grid, so each step is drawn where it is. Options: ``mse_range`` (default
[1e-4, 1e-1]), ``lpips_range`` (default [0, 0.6]). Reads only the CSVs; several CSVs draw each
one's cells, named by the CSV's folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sharegrad.claims import tiers
from sharegrad.errors import UserError
from sharegrad.report import register_figure
from sharegrad.report.sample import images_said
from sharegrad.report.stats import wilson_interval
from sharegrad.report.style import palette, plt, save

CELL = ["dataset", "model", "batch_size", "attack", "line_search", "labels", "iterations", "defense", "level"]
RANGES = {tiers.PIXEL_EXACT: (1e-4, 1e-1), tiers.RECOGNISABLE: (0.0, 0.6)}
METRIC = {tiers.PIXEL_EXACT: "mse", tiers.RECOGNISABLE: "lpips"}
OPTION = {tiers.PIXEL_EXACT: "mse_range", tiers.RECOGNISABLE: "lpips_range"}
GRID_POINTS = 121


def rate_curve(rows: pd.DataFrame, tier: str, thresholds) -> pd.DataFrame:
    """Per threshold: images recovered under ``tier`` at that threshold, of all the rows, the rate and its
    95% Wilson interval (the images of a diverged attack count in the denominator, never as recovered)."""
    out = []
    for threshold in thresholds:
        hits = int(tiers.recovered(rows, tier, threshold=float(threshold)).sum())
        low, high = wilson_interval(hits, len(rows))
        out.append({"threshold": float(threshold), "recovered": hits, "images": len(rows),
                    "rate": hits / len(rows) if len(rows) else np.nan, "low": low, "high": high})
    return pd.DataFrame(out, columns=["threshold", "recovered", "images", "rate", "low", "high"])


def thresholds_for(rows: pd.DataFrame, tier: str, lo: float, hi: float, marks=()) -> np.ndarray:
    """A grid over [lo, hi] (log-spaced for MSE) with every image's own value and the marks inside it."""
    grid = np.geomspace(lo, hi, GRID_POINTS) if tier == tiers.PIXEL_EXACT else np.linspace(lo, hi, GRID_POINTS)
    values = pd.to_numeric(rows[METRIC[tier]], errors="coerce").to_numpy(dtype=float)
    extra = np.concatenate([values, np.asarray(list(marks), dtype=float)])
    extra = extra[np.isfinite(extra) & (extra >= lo) & (extra <= hi)]
    return np.unique(np.concatenate([grid, extra]))


def crossing(curve: pd.DataFrame, rate: float) -> float | None:
    """The smallest threshold of ``curve`` at which the rate is above ``rate`` (None: nowhere in it)."""
    above = curve[curve.rate > rate]
    return float(above.threshold.min()) if len(above) else None


def _range(options: dict, tier: str, marks) -> tuple[float, float]:
    """The option's [low, high], widened to hold every mark (the claim's threshold is always on the axis)."""
    value = options.get(OPTION[tier], RANGES[tier])
    log = tier == tiers.PIXEL_EXACT
    ok = (isinstance(value, (list, tuple)) and len(value) == 2
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
          and (value[0] > 0 if log else value[0] >= 0) and value[0] < value[1])
    if not ok:
        raise UserError(f"dlg_threshold: option {OPTION[tier]!r} must be [low, high] with 0 {'<' if log else '<='} "
                        f"low < high, got {value!r}")
    lo, hi = float(value[0]), float(value[1])
    for mark in marks:
        lo, hi = min(lo, mark / 2 if log else mark), max(hi, mark * 2 if log else mark)
    return lo, hi


def cell_label(row: dict, images: int, source: str | None) -> str:
    text = (f"{row.get('model')}, batch {row.get('batch_size')}, {row.get('attack')}"
            + (f" ({row['line_search']}, {row['labels']})" if "line_search" in row and "labels" in row else "")
            + (f", {row['iterations']:g} steps" if isinstance(row.get("iterations"), (int, float)) else ""))
    if str(row.get("defense", "none")) != "none":
        text += f", {row['defense']} {row['level']:g}"
    return (f"{source}: " if source else "") + text + f" ({images_said(images)})"


def cells_of(csv_paths: list[Path]) -> list[tuple[str, pd.DataFrame]]:
    """(label, rows) per cell of every CSV, in the CSVs' order, then by cell."""
    cells = []
    for path in csv_paths:
        table = pd.read_csv(path)
        keys = [c for c in CELL if c in table]
        source = Path(path).parent.name if len(csv_paths) > 1 else None
        for key, rows in table.groupby(keys, sort=True, dropna=False):
            cells.append((cell_label(dict(zip(keys, key)), len(rows), source), rows))
    return cells


@register_figure("dlg_threshold", section="dlg", inputs=["dlg.csv"], subcategory="Images",
                 title="Success rate against the threshold, per tier")
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    cells = cells_of(csv_paths)
    mse_marks = {float(v) for _, rows in cells for v in pd.to_numeric(rows.success_mse, errors="coerce")}
    marks = {tiers.PIXEL_EXACT: sorted(v for v in mse_marks if np.isfinite(v) and v > 0),
             tiers.RECOGNISABLE: [tiers.recognisable_lpips()]}
    colours = palette(len(cells))
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.3), sharey=True)
    curves = 0
    for ax, tier in zip(axes, tiers.TIERS):
        lo, hi = _range(options, tier, marks[tier])
        step = "pre" if tier == tiers.PIXEL_EXACT else "post"  # MSE strictly below: a step lands just after a value
        drawn = 0
        for colour, (label, rows) in zip(colours, cells):
            if not tiers.has_tier(rows, tier) or pd.to_numeric(rows[METRIC[tier]], errors="coerce").isna().all():
                continue
            curve = rate_curve(rows, tier, thresholds_for(rows, tier, lo, hi, marks[tier]))
            ax.plot(curve.threshold, curve.rate, drawstyle=f"steps-{step}", color=colour, lw=1.3, label=label)
            ax.fill_between(curve.threshold, curve.low, curve.high, step=step, color=colour, alpha=0.15, lw=0)
            drawn += 1
        curves += drawn
        for mark in marks[tier]:
            ax.axvline(mark, color="0.3", ls="--", lw=0.9,
                       label=(f"the run's success_mse ({mark:g})" if tier == tiers.PIXEL_EXACT
                              else f"the recognisable bound (claims file: {mark:g})"))
        if tier == tiers.PIXEL_EXACT:
            ax.set_xscale("log")
            ax.set_xlabel("MSE threshold (image counts if its MSE is below it)")
        else:
            ax.set_xlabel("LPIPS threshold (image counts if its LPIPS is at most it)")
        ax.set_xlim(lo, hi)
        ax.set_title(f"{tiers.LABELS[tier]} tier", fontsize=9)
        if not drawn:
            ax.text(0.5, 0.5, f"no {METRIC[tier].upper()} in the CSV" + (" (the run had no LPIPS weights)"
                                                                         if tier == tiers.RECOGNISABLE else ""),
                    transform=ax.transAxes, ha="center", va="center", fontsize=8)
    if not curves:
        plt.close(fig)
        raise UserError(f"dlg_threshold: {', '.join(map(str, csv_paths))} has no image with an MSE or LPIPS")
    axes[0].set_ylabel("share of images recovered (95% Wilson interval)")
    axes[0].set_ylim(-0.02, 1.02)
    handles, labels = [], []
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle), labels.append(label)
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2 if len(labels) > 3 else 1,
               fontsize=6.5, frameon=False)
    fig.suptitle("DLG: success rate against the threshold (a diverged attack never counts)", fontsize=9)
    fig.tight_layout()
    save(fig, output)
