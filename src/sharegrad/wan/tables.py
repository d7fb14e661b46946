"""WAN results as tables: measured points beside the model's prediction, and the model at paper scale."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from sharegrad.errors import UserError
from sharegrad.wan import model as wan_model

PARAM_KEYS = ["method", "delay", "period", "ratio", "powersgd_rank", "warmup_steps", "model", "batch_size",
              "momentum", "dataset", "threads", "seed", "outer_lr", "outer_momentum", "fragments", "overlap", "mix"]
# Paper-scale emulation settings (absent from runs measured before they existed: NaN / "-" there).
EMULATION_DEFAULTS = {"compute_s": math.nan, "payload_parameters": math.nan, "payload_scale": 1.0,
                      "filler_bytes_per_step": 0.0, "real_compute_per_step_s": math.nan,
                      "compute_overrun_steps": 0, "topk_exchange": "-"}


def method_name(method: str, delay: int, period: int, ratio: float, powersgd_rank: int = 2,
                fragments: int = 1, overlap: int = 0, topk_exchange: str = "slotted") -> str:
    """A short display name that spells the options the method uses."""
    topk = f" + top-k {100 * ratio:g}%" + (" (all-gather)" if topk_exchange == "all_gather" else "")
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
    if base == "diloco":
        return f"DiLoCo(H={period})"
    if base == "streaming_diloco":
        return f"Streaming DiLoCo(H={period}, F={fragments}, tau={overlap})"
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
    # Paper-scale rows: the projection from the documented inputs alone (the stated compute per step, the
    # link, the payload's bytes), next to what the emulation measured with the same inputs.
    out["compute_s"] = pd.to_numeric(out["compute_s"], errors="coerce")  # None (not set) in the records: NaN
    projected = []
    for _, row in out.iterrows():
        compute = float(row["compute_s"])
        projected.append(wan_model.utilisation(compute, _pattern(row), row["latency_ms"], row["bandwidth_mbps"])
                         if math.isfinite(compute) else math.nan)
    out["projected_scalability"] = projected
    out["projected_over_measured"] = projection_ratio(out["projected_scalability"], out["scalability"])
    return out


def projection_ratio(projected, measured):
    """Projected scalability over measured (1: the projection is what the emulation measured)."""
    return projected / measured


def points_table(files: list[Path]) -> pd.DataFrame:
    rows = []
    for file in files:
        try:
            record = json.loads(Path(file).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"cannot read WAN run {file} ({exc}); delete it and rerun its rule") from None
        params = record["parameters"]
        base = {k: params.get(k) for k in PARAM_KEYS}
        exchange = params.get("topk_exchange", "slotted") if params["method"] == "delayed_sparse_topk" else "-"
        base["name"] = method_name(params["method"], params["delay"], params["period"], params["ratio"],
                                   params["powersgd_rank"], params.get("fragments") or 1, params.get("overlap") or 0,
                                   exchange)
        machine = record["machine"]
        base["cores_available"] = machine["before"]["cores_available"]
        base["load_1min_before"] = machine["before"]["load_average_1_5_15"][0]
        base["load_1min_after"] = machine["after"]["load_average_1_5_15"][0]
        base["device"] = record["provenance"]["device"]
        # the run's own record (the JSON read here) and the commit that made it, so a kept CSV traces to both
        base["record"] = str(file)
        base["git_commit"] = record["provenance"].get("git_commit", "unknown")
        for point in record["points"]:
            rows.append({**base, **EMULATION_DEFAULTS, "topk_exchange": exchange, **point})
    if not rows:
        raise UserError("no WAN points in the given files")
    frame = pd.DataFrame(rows)
    # The parameters the link carried: the payload where one was set, else the model's own.
    own = frame.apply(lambda r: own_parameters(r["model"], r["dataset"]), axis=1)
    frame["payload_parameters"] = pd.to_numeric(frame.payload_parameters, errors="coerce").fillna(own).astype("int64")
    return with_model(frame)


def own_parameters(model: str, dataset: str) -> int:
    from sharegrad.train.models import build_train_model

    classes, channels = DATASET_SHAPES[dataset]
    return sum(p.numel() for p in build_train_model(model, classes, channels, 0).parameters())


DATASET_SHAPES = {"digits": (10, 1)}  # (classes, input channels) of the datasets the WAN stage trains on


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


def latency_sweeps(points: pd.DataFrame) -> list[tuple[dict, pd.DataFrame]]:
    """Paper-scale-compute runs of one method over several latencies at one bandwidth: (key, rows by latency)."""
    if "compute_s" not in points:
        return []
    padded = points[pd.to_numeric(points.compute_s, errors="coerce").notna()]
    keys = ["name", "method", "delay", "period", "compute_s", "bandwidth_mbps", "world_size"]
    out = []
    for key, rows in padded.groupby(keys, sort=True):
        if rows.latency_ms.nunique() > 1 and (rows.latency_ms == 0).any():
            out.append((dict(zip(keys, key)), rows.sort_values("latency_ms")))
    return out


def largest_latency_within(rows: pd.DataFrame, fraction: float) -> tuple[float, float | None]:
    """(largest swept latency in seconds up to which every point's scalability stays >= fraction x the
    zero-latency one, the first swept latency in seconds where it does not: None if none fails)."""
    rows = rows.groupby("latency_ms", as_index=False).scalability.mean().sort_values("latency_ms")
    reference = float(rows.scalability[rows.latency_ms == 0].iloc[0])
    held = 0.0
    for latency, value in zip(rows.latency_ms, rows.scalability):
        if value < fraction * reference:
            return held, float(latency) / 1000.0
        held = float(latency) / 1000.0
    return held, None
