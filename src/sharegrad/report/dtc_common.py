"""Shared by the DTS tables and figures: how a run's method is named and grouped."""

from __future__ import annotations

import pandas as pd

# Every setting of a method: runs differing in one of them are different methods, never seeds of one.
METHOD_KEYS = ["method", "delay", "period", "ratio", "powersgd_rank", "warmup_steps"]
# The settings a setup's heading states (the budget, epochs, included): runs differing in one are different setups.
SETUP_KEYS = ["setup", "dataset", "model", "world_size", "backend", "batch_size", "lr", "momentum", "weight_decay",
              "epochs"]


def method_name(row) -> str:
    m = row["method"]
    base = m.removesuffix("_nocomp")
    suffix = ", no comp." if m.endswith("_nocomp") else ""
    if base == "delayed":
        return f"delayed(t={row['delay']}){suffix}"
    if base == "sparse":
        return f"sparse(p={row['period']}){suffix}"
    if base == "delayed_sparse":
        return f"delayed+sparse(t={row['delay']}, p={row['period']}){suffix}"
    warmup = row.get("warmup_steps", 0)
    warmup = f", warm-up {int(warmup)}" if warmup == warmup and warmup else ""
    if m == "localsgd":
        return f"local SGD(p={row['period']}{warmup})"
    if m == "powersgd":
        return f"PowerSGD(rank={row['powersgd_rank']}{warmup})"
    if m == "dgc":
        return f"DGC top-k({row['ratio']:g})"
    return m


def with_names(table: pd.DataFrame) -> pd.DataFrame:
    table = table.copy()
    table["method_name"] = [method_name(r) for _, r in table.iterrows()]
    return table


def seed_summary(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean, standard deviation and count of the final accuracy over seeds, per group."""
    grouped = table.groupby(keys, sort=False, dropna=False)
    out = grouped.final_test_accuracy.agg(["mean", "std", "count"]).reset_index()
    extra = grouped[["bytes_sent_per_epoch", "mean_steps_per_s"]].mean().reset_index(drop=True)
    return pd.concat([out, extra], axis=1)
