"""WAN results as tables: measured points beside the model's prediction, and the model at paper scale."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from sharegrad.errors import UserError
from sharegrad.wan import model as wan_model

PARAM_KEYS = ["method", "delay", "period", "ratio", "powersgd_rank", "warmup_steps", "model", "batch_size",
              "momentum", "dataset", "threads", "seed"]


def method_name(method: str, delay: int, period: int, ratio: float, powersgd_rank: int = 2) -> str:
    """A short display name that spells the options the method uses."""
    topk = f" + top-k {100 * ratio:g}%"
    base = method.removesuffix("_nocomp")
    suffix = " (no comp.)" if method.endswith("_nocomp") else ""
    if base == "sync":
        return "sync"
    if base == "dgc":
        return "sync" + topk
    if base == "delayed":
        return f"delayed({delay}){suffix}"
    if base == "sparse":
        return f"sparse({period}){suffix}"
    if base == "delayed_sparse":
        return f"delayed+sparse({delay},{period}){suffix}"
    if base == "delayed_sparse_topk":
        if delay and period > 1:
            core = f"delayed+sparse({delay},{period})"
        elif delay:
            core = f"delayed({delay})"
        elif period > 1:
            core = f"sparse({period})"
        else:
            core = "sync (slotted)"
        return core + topk
    if base == "localsgd":
        return f"local SGD({period})"
    if base == "powersgd":
        return f"PowerSGD(rank {powersgd_rank})"
    return method


def _pattern(row) -> wan_model.Pattern:
    return wan_model.Pattern(int(row["pattern_delay"]), int(row["pattern_period"]), int(row["pattern_rounds"]),
                             int(row["pattern_wire_bytes"]))


def with_model(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the model's prediction for every measured point.

    ``model_*``: fed the N-rank run's own compute time per step (its step time less its waits), so
    it tests the predicted wait. ``*_solo_*``: fed the single-rank step time instead, so it also
    carries what the N-rank run loses to sharing the machine's cores."""
    out = frame.copy()
    step, wait, slides = [], [], []
    for _, row in out.iterrows():
        pattern = _pattern(row)
        step.append(wan_model.step_seconds(row["compute_per_step_s"], pattern, row["latency_ms"],
                                           row["bandwidth_mbps"]))
        wait.append(step[-1] - row["compute_per_step_s"])
        slides.append(wan_model.slides_wait_per_step(row["compute_per_step_s"], pattern, row["latency_ms"],
                                                     row["bandwidth_mbps"]))
    out["model_step_s"] = step
    out["model_wait_per_step_s"] = wait
    out["slides_wait_per_step_s"] = slides
    out["model_scalability"] = out["single_rank_step_s"] / out["model_step_s"]
    out["scalability_vs_model"] = out["scalability"] / out["model_scalability"] - 1.0
    # A prediction that takes nothing from the N-rank run: compute per step = the solo run's.
    out["model_scalability_solo_compute"] = [
        row["single_rank_step_s"] / wan_model.step_seconds(row["single_rank_step_s"], _pattern(row),
                                                            row["latency_ms"], row["bandwidth_mbps"])
        for _, row in out.iterrows()]
    out["scalability_vs_solo_model"] = out["scalability"] / out["model_scalability_solo_compute"] - 1.0
    return out


def points_table(files: list[Path]) -> pd.DataFrame:
    rows = []
    for file in files:
        try:
            record = json.loads(Path(file).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"cannot read WAN run {file} ({exc}); delete it and rerun its rule") from None
        params = record["parameters"]
        base = {k: params.get(k) for k in PARAM_KEYS}
        base["name"] = method_name(params["method"], params["delay"], params["period"], params["ratio"],
                                   params["powersgd_rank"])
        machine = record["machine"]
        base["cores_available"] = machine["before"]["cores_available"]
        base["load_1min_before"] = machine["before"]["load_average_1_5_15"][0]
        base["load_1min_after"] = machine["after"]["load_average_1_5_15"][0]
        base["device"] = record["provenance"]["device"]
        for point in record["points"]:
            rows.append({**base, **point})
    if not rows:
        raise UserError("no WAN points in the given files")
    return with_model(pd.DataFrame(rows))


PROJECTED = [  # (method, uses delay, uses period, top-k, the claim whose paper figure sits beside it)
    ("sync", False, False, False, "scalability_naive"),
    ("delayed", True, False, False, None),
    ("sparse", False, True, False, None),
    ("delayed_sparse", True, True, False, "scalability_dts"),
    ("delayed_sparse_topk", True, True, True, "scalability_dts"),
]
HIDDEN_LATENCY_CLAIM = "delay20_hides_6s"  # the slides' latency a delay of 20 hides (claims file)
REQUIRED_INPUTS = ["servers", "parameters", "bytes_per_parameter", "compute_s_per_step", "compute_source",
                   "momentum", "latency_ms", "bandwidth_mbps", "delay", "period", "ratio", "fast_bandwidth_mbps"]


def paper_projection(inputs: dict) -> pd.DataFrame:
    """The model at paper scale: N servers, a model of ``parameters`` weights, the stated compute time.

    Top-k is projected as a ring all-gather of float32 values and int32 indices (what a deployment
    would send), not as the slotted all-reduce the CPU emulation uses."""
    missing = [k for k in REQUIRED_INPUTS if k not in inputs]
    if missing:
        raise UserError(f"wan.paper_scale is missing {missing}")
    n, compute = int(inputs["servers"]), float(inputs["compute_s_per_step"])
    shapes = [(int(inputs["parameters"]),)]
    rows = []
    from sharegrad.claims import paper_value

    for method, uses_delay, uses_period, topk, paper_claim in PROJECTED:
        delay = int(inputs["delay"]) if uses_delay else 0
        period = int(inputs["period"]) if uses_period else 1
        ratio = float(inputs["ratio"]) if topk else 0.01
        pattern = wan_model.comm_pattern(method, shapes, n, inputs["momentum"], delay, period, ratio,
                                         element_bytes=int(inputs["bytes_per_parameter"]),
                                         topk_exchange="all_gather")
        step = wan_model.step_seconds(compute, pattern, inputs["latency_ms"], inputs["bandwidth_mbps"])
        paper = paper_value(paper_claim) if paper_claim else None
        rows.append({
            "name": method_name(method, delay, period, ratio), "method": method, "delay": delay, "period": period,
            "ratio": ratio if topk else math.nan, "servers": n, "parameters": inputs["parameters"],
            "model_mb": inputs["parameters"] * inputs["bytes_per_parameter"] / 1e6,
            "compute_s_per_step": compute, "compute_source": inputs["compute_source"],
            "latency_ms": inputs["latency_ms"], "bandwidth_mbps": inputs["bandwidth_mbps"],
            "wire_mb_per_sync": pattern.wire_bytes / 1e6,
            "comm_s_per_sync": wan_model.comm_seconds(pattern, inputs["latency_ms"], inputs["bandwidth_mbps"]),
            "step_s": step, "scalability": wan_model.scalability(compute, step),
            "paper_scalability": paper if paper is not None else math.nan,
            "hidden_latency_s": wan_model.largest_hidden_latency_ms(compute, pattern, inputs["bandwidth_mbps"]) / 1e3,
            "fast_bandwidth_mbps": inputs["fast_bandwidth_mbps"],
            "hidden_latency_s_fast": wan_model.largest_hidden_latency_ms(
                compute, pattern, inputs["fast_bandwidth_mbps"]) / 1e3,
            "slides_hidden_latency_s": paper_value(HIDDEN_LATENCY_CLAIM) if method == "delayed" else math.nan,
        })
    return pd.DataFrame(rows)
