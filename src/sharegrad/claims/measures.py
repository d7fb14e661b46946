"""What a claim measures: one function per quantity, from the rows of one cell of an aggregated CSV.

``select(table, cells)`` picks the rows a claim names; ``split_cells`` cuts them into
cells by the columns that define a cell of that CSV (so two budgets, two line searches
or two models are never pooled); a measure turns one cell's rows into a
``Measurement``. Each measure is registered by the name the claims file uses
(``measure.quantity``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sharegrad.registry import Registry
from sharegrad.report.stats import wilson_interval

MEASURES: Registry = Registry("claim quantity", "sharegrad.claims")
register_measure = MEASURES.register

# The columns that define one cell of each aggregated CSV (whatever is present of them).
CELL_COLUMNS = {
    "dlg": ["dataset", "model", "batch_size", "attack", "line_search", "labels", "iterations", "defense", "level",
            "success_mse"],
    "defenses": ["dataset", "model", "batch_size", "attack", "line_search", "labels", "iterations", "defense",
                 "level", "success_mse"],
    "text": ["model", "attack", "defense", "level"],
    "dtc": ["dataset", "model", "method", "delay", "period", "ratio", "powersgd_rank", "warmup_steps", "defense",
            "defense_level", "epochs", "batch_size", "lr", "momentum", "weight_decay", "world_size", "setup"],
    "wan": ["model", "method", "delay", "period", "ratio", "powersgd_rank", "warmup_steps", "momentum", "latency_ms",
            "bandwidth_mbps", "world_size", "payload_parameters", "compute_s", "topk_exchange"],
    "wan_projection": ["name", "method", "delay", "period", "ratio", "servers", "latency_ms", "bandwidth_mbps"],
}
# Columns shown to say what a cell measured (model, data, budget), where present.
DESCRIBE = ["dataset", "model", "batch_size", "attack", "line_search", "labels", "iterations", "defense", "level",
            "method", "delay", "period", "ratio", "momentum", "defense_level", "epochs", "latency_ms", "bandwidth_mbps",
            "world_size", "name", "payload_parameters", "compute_s", "topk_exchange"]


@dataclass
class Measurement:
    value: float  # the measured quantity (nan: nothing to measure)
    n: int  # images, sentences, seeds or runs behind it
    low: float = math.nan  # 95% interval, where the quantity has one
    high: float = math.nan
    budget: float | None = None  # iterations the runs were given (None: not an attack)
    successes: int | None = None  # for rates and all-or-nothing rules
    text: str = ""  # the value as the ledger prints it
    extra: dict = field(default_factory=dict)  # what a rule needs beyond the value (baseline, ...)


def _matches(series: pd.Series, wanted) -> pd.Series:
    if isinstance(wanted, dict):
        values = pd.to_numeric(series, errors="coerce")
        keep = pd.Series(True, index=series.index)
        for op, bound in wanted.items():
            keep &= {"min": values >= bound, "max": values <= bound, "gt": values > bound, "lt": values < bound}[op]
        return keep
    options = wanted if isinstance(wanted, list) else [wanted]
    if pd.api.types.is_numeric_dtype(series) and all(isinstance(o, (int, float)) and not isinstance(o, bool)
                                                      for o in options):
        return series.isin(options)
    return series.astype(str).isin([str(o) for o in options])


def select(table: pd.DataFrame, cells: dict) -> pd.DataFrame:
    """The rows whose every named column matches; a column the CSV lacks matches nothing."""
    keep = pd.Series(True, index=table.index)
    for column, wanted in cells.items():
        if column not in table.columns:
            return table.iloc[0:0]
        keep &= _matches(table[column], wanted)
    return table[keep]


def cell_columns(source: str, table: pd.DataFrame) -> list[str]:
    return [c for c in CELL_COLUMNS[source] if c in table.columns]


def split_cells(source: str, rows: pd.DataFrame) -> list[tuple[dict, pd.DataFrame]]:
    columns = cell_columns(source, rows)
    if rows.empty:
        return []
    if not columns:
        return [({}, rows)]
    keyed = rows.assign(**{c: rows[c].astype(object).where(rows[c].notna(), "-") for c in columns})
    return [(dict(zip(columns, key if isinstance(key, tuple) else (key,))), keyed.loc[group.index])
            for key, group in keyed.groupby(columns, sort=True, dropna=False)]


def _budget(rows: pd.DataFrame, column: str = "iterations") -> float | None:
    return float(rows[column].max()) if column in rows and rows[column].notna().any() else None


def _rate(successes: int, total: int, budget: float | None) -> Measurement:
    low, high = wilson_interval(successes, total)
    value = successes / total if total else math.nan
    return Measurement(value=value, n=total, low=low, high=high, budget=budget, successes=successes,
                       text=f"{successes}/{total} = {value:.0%} [{low:.0%}, {high:.0%}]" if total else "n/a")


def _same_cell_other(table: pd.DataFrame, cell: dict, override: dict, source: str) -> pd.DataFrame:
    """Rows of ``table`` in the cell ``cell`` with the columns in ``override`` replaced (a baseline)."""
    wanted = {k: v for k, v in cell.items() if k not in override and v != "-"}
    ignore = {"level", "defense_level"} if "defense" in override else set()
    if "method" in override:  # the reference method's own delay, period, ratio ...
        ignore |= {"delay", "period", "ratio", "powersgd_rank", "warmup_steps"}
    wanted = {k: v for k, v in wanted.items() if k not in ignore}
    return select(table, {**wanted, **override})


@register_measure("success_rate")
def success_rate(rows: pd.DataFrame, table: pd.DataFrame, cell: dict, claim: dict, source: str) -> Measurement:
    """Share of images recovered (the CSV's per-image ``success``: MSE below threshold, not diverged)."""
    result = _rate(int(rows.success.astype(bool).sum()), len(rows), _budget(rows))
    if claim["measure"].get("baseline"):
        base = _same_cell_other(table, cell, claim["measure"]["baseline"], source)
        result.extra["baseline"] = _rate(int(base.success.astype(bool).sum()), len(base), _budget(base))
    return result


@register_measure("label_accuracy")
def label_accuracy(rows: pd.DataFrame, table: pd.DataFrame, cell: dict, claim: dict, source: str) -> Measurement:
    """Share of images whose recovered label is the true one."""
    return _rate(int(rows.label_correct.astype(bool).sum()), len(rows), _budget(rows))


@register_measure("median_steps_to_success")
def median_steps_to_success(rows: pd.DataFrame, table: pd.DataFrame, cell: dict, claim: dict, source: str) -> Measurement:
    """Median outer step at which an image first fell below the threshold; an image never
    recovered counts as never (infinite), so the median is finite only if more than half came back
    (sharegrad.metrics.iterations: the one computation every table and figure uses too)."""
    from sharegrad.metrics.iterations import iterations_to_success

    found = iterations_to_success(rows)
    return Measurement(value=found.median, n=found.images, budget=_budget(rows), successes=found.recovered,
                       text=found.text(budget=False))


@register_measure("text_exact_match")
def text_exact_match(rows: pd.DataFrame, table: pd.DataFrame, cell: dict, claim: dict, source: str) -> Measurement:
    """Sentences decoded exactly, each read at the largest budget not above the claim's."""
    budget = claim["rule"].get("budget")
    usable = rows if budget is None else rows[rows.budget <= budget]
    if usable.empty:  # only budgets above the claim's: nothing to read at the claim's budget
        return Measurement(value=math.nan, n=0, budget=None, successes=0, text="no budget <= the claim's")
    read_at = usable.budget.max()
    at = usable[usable.budget == read_at].drop_duplicates("sentence_id")
    wins = int(at.exact_match.astype(bool).sum())
    accuracy = float(at.token_accuracy.mean())
    return Measurement(value=wins / len(at), n=len(at), budget=float(read_at), successes=wins,
                       text=f"{wins}/{len(at)} sentences exact, mean token accuracy {accuracy:.0%}")


def _t_interval(values: np.ndarray) -> tuple[float, float, float]:
    from scipy import stats

    mean = float(values.mean())
    if len(values) < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))
    return mean, mean - half, mean + half


@register_measure("accuracy_difference")
def accuracy_difference(rows: pd.DataFrame, table: pd.DataFrame, cell: dict, claim: dict, source: str) -> Measurement:
    """Final test accuracy minus the reference's (points), paired by seed; 95% t-interval."""
    reference = _same_cell_other(table, cell, claim["measure"]["reference"], source)
    ours = rows.groupby("seed").final_test_accuracy.mean()
    theirs = reference.groupby("seed").final_test_accuracy.mean()
    seeds = sorted(set(ours.index) & set(theirs.index))
    if not seeds:
        return Measurement(value=math.nan, n=0, text="no reference run with the same seed")
    diffs = 100 * (ours.loc[seeds].to_numpy() - theirs.loc[seeds].to_numpy())
    mean, low, high = _t_interval(diffs)
    interval = f" [{low:+.2f}, {high:+.2f}]" if math.isfinite(low) else ""
    return Measurement(value=mean, n=len(seeds), low=low, high=high,
                       text=f"{mean:+.2f} points{interval} over {len(seeds)} seed(s)")


@register_measure("scalability")
def scalability(rows: pd.DataFrame, table: pd.DataFrame, cell: dict, claim: dict, source: str) -> Measurement:
    """Measured throughput of N ranks over N times one rank's (mean over repeated points)."""
    values = rows.scalability.astype(float)
    compute = (f", compute {1000 * rows.compute_per_step_s.astype(float).median():.1f} ms/step"
               if "compute_per_step_s" in rows else "")
    return Measurement(value=float(values.mean()), n=len(values),
                       text=f"{values.mean():.3f} ({len(values)} run(s){compute})")


@register_measure("hidden_latency")
def hidden_latency(rows: pd.DataFrame, table: pd.DataFrame, cell: dict, claim: dict, source: str) -> Measurement:
    """Largest latency the WAN model hides, at the projection's fast link (seconds)."""
    value = float(rows.hidden_latency_s_fast.astype(float).max())
    return Measurement(value=value, n=len(rows),
                       text=f"{value:.2f} s (model at paper scale, compute {rows.compute_s_per_step.iloc[0]:g} s/step "
                            f"assumed, {rows.fast_bandwidth_mbps.iloc[0]:g} Mb/s)")


@register_measure("hidden_latency_measured")
def hidden_latency_measured(rows: pd.DataFrame, table: pd.DataFrame, cell: dict, claim: dict,
                            source: str) -> Measurement:
    """Largest swept latency (seconds) up to which the measured scalability stays >= ``rule.factor`` x the
    zero-latency one. The claim's cells select the sweep's zero-latency point; the sweep is that cell's rows
    at every latency. The interval is what the sweep's grid can say: [held, first failing) where the first
    failing latency is past the claim's threshold, [held, held] where it is not (the claim fails there)."""
    from sharegrad.wan.tables import largest_latency_within

    fraction = float(claim["rule"].get("factor", 1.0))
    wanted = {k: v for k, v in cell.items() if k != "latency_ms" and v != "-"}
    sweep = select(table, wanted)
    if "compute_s" in cell and cell["compute_s"] == "-":  # select cannot match a missing value
        sweep = sweep[sweep.compute_s.isna()] if "compute_s" in sweep else sweep
    held, failed = largest_latency_within(sweep, fraction)
    threshold = float(claim["rule"].get("threshold", math.inf))
    high = held if failed is not None and failed <= threshold else (failed if failed is not None else 1e9)
    swept = ", ".join(f"{lat / 1000:g} s: {value:.3f}" for lat, value in
                      sweep.groupby("latency_ms").scalability.mean().items())
    below = f"first below at {failed:g} s" if failed is not None else "none below"
    return Measurement(value=held, n=int(sweep.latency_ms.nunique()), low=held, high=high,
                       text=f"{held:g} s within {fraction:g} x the zero-latency scalability ({below}; {swept})")


@register_measure("bytes_per_step_vs_sync_over_period")
def bytes_vs_sync(rows: pd.DataFrame, table: pd.DataFrame, cell: dict, claim: dict, source: str) -> Measurement:
    """Wire bytes per step times the period, over synchronous SGD's wire bytes per step (1: the slides' formula)."""
    reference = _same_cell_other(table, cell, claim["measure"]["reference"], source)
    if reference.empty:
        return Measurement(value=math.nan, n=0, text="no sync run at the same link")
    sync = float(reference.wire_bytes_per_step.astype(float).mean())
    ratio = float(rows.wire_bytes_per_step.astype(float).mean()) * float(rows.period.iloc[0]) / sync
    return Measurement(value=ratio, n=len(rows), text=f"{ratio:.3f} (p = {int(rows.period.iloc[0])})")
