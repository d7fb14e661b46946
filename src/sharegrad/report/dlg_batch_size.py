"""Success rate and iterations to success against batch size, one line per model x attack setting.

The paper's iterations needed on CIFAR per batch size come from the claims file
(experiments/claims.yaml, group ``iterations_to_success``); they are recalled,
not read off the paper, and drawn as such, for comparison only.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from sharegrad.claims import claims_in_group
from sharegrad.metrics.iterations import iterations_to_success
from sharegrad.report import register_figure
from sharegrad.report.stats import wilson_interval
from sharegrad.report.style import dodge, include, palette, plain_ticks, plt, save


def paper_iterations() -> dict[int, float]:
    """Batch size -> the paper's iterations to success (claims file)."""
    return {c["paper"]["batch_size"]: c["paper"]["value"] for c in claims_in_group("iterations_to_success")}

# One line per setting that defines a cell other than the batch size; the budget (iterations) is one,
# so two budgets draw two lines and the legend says which.
SERIES = ["dataset", "model", "attack", "line_search", "labels", "iterations"]


def by_batch_size(table: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for key, group in table.groupby(SERIES + ["batch_size"], dropna=False):
        wins = int(group.success.astype(bool).sum())
        low, high = wilson_interval(wins, len(group))
        median = iterations_to_success(group).median  # inf: fewer than half came back, drawn at the budget
        rows.append({**dict(zip(SERIES + ["batch_size"], key)), "images": len(group), "rate": wins / len(group),
                     "low": low, "high": high,
                     "median_iterations": median if math.isfinite(median) else float("nan")})
    return pd.DataFrame(rows)


@register_figure("dlg_batch_size", section="dlg", inputs=["dlg.csv"], subcategory="Images",
                 title="Success rate and iterations against batch size")
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    table = pd.read_csv(csv_paths[0])
    table = table[table.defense.astype(str) == "none"] if "defense" in table else table
    stats = by_batch_size(table)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    groups = list(stats.groupby(SERIES, dropna=False))
    colours = palette(len(groups))
    for index, (key, series) in enumerate(groups):
        series = series.sort_values("batch_size")
        label = " / ".join(str(k) for k in key[:-1]) + f" / {key[-1]:g} steps"
        # series side by side at each batch size, so one's interval never hides another's
        left.errorbar(series.batch_size, series.rate, yerr=[series.rate - series.low, series.high - series.rate],
                      marker="o", capsize=3, label=label, color=colours[index],
                      transform=dodge(left, index, len(groups)))
        include(left, series.batch_size, series.low), include(left, series.batch_size, series.high)
        right.plot(series.batch_size, series.median_iterations, marker="o", label=label, color=colours[index])
        # fewer than half back at a batch size: an open triangle at the budget, the least the median could be
        missed = series[series.median_iterations.isna()]
        if len(missed):
            right.scatter(missed.batch_size, missed.iterations, marker="^", s=40, facecolors="none",
                          edgecolors=[colours[index]], transform=dodge(right, index, len(groups)))
            include(right, missed.batch_size, missed.iterations)
    paper = pd.Series(paper_iterations()).sort_index()
    right.plot(paper.index, paper.values, "k--", marker="x", label="paper, CIFAR (recalled)")
    if stats.median_iterations.isna().any():
        right.scatter([], [], marker="^", s=40, facecolors="none", edgecolors="k",
                      label="median not reached: drawn at the budget")
    left.set(xscale="log", xlabel="batch size", ylabel="success rate (95% CI)", ylim=(-0.05, 1.05),
             title="images recovered (MSE below threshold)")
    right.set(xscale="log", yscale="log", xlabel="batch size", ylabel="median outer steps to success",
              title="iterations to success")
    for ax in (left, right):  # the batch sizes themselves as ticks, plain numbers
        plain_ticks(ax.xaxis, list(stats.batch_size) + list(paper.index))
    budgets = list(stats[stats.median_iterations.isna()].iterations)
    steps = [v for v in list(stats.median_iterations) + list(paper.values) + budgets if v == v and v > 0]
    if steps:
        plain_ticks(right.yaxis, log_ticks(min(steps), max(steps)))
    right.legend(fontsize=6, loc="best")
    save(fig, output)


def log_ticks(low: float, high: float) -> list[float]:
    """1, 2, 5 times powers of ten covering [low, high]: readable ticks on a log axis."""
    import math

    ticks = [m * 10 ** e for e in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
             for m in (1, 2, 5)]
    inside = [t for t in ticks if low / 2 <= t <= high * 2]
    return inside or [low, high]
