"""Shared by the WAN figures: the model's line through a method's measured points."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sharegrad.wan import model as wan_model


def model_curve(points: pd.DataFrame, latencies_ms, bandwidths_mbps) -> np.ndarray:
    """Model scalability along a line of (latency, bandwidth), fed the points' median measured compute."""
    row = points.iloc[0]
    pattern = wan_model.Pattern(int(row.pattern_delay), int(row.pattern_period), int(row.pattern_rounds),
                                int(row.pattern_wire_bytes))
    compute = float(points.compute_per_step_s.median())
    single = float(points.single_rank_step_s.median())
    return np.array([single / wan_model.step_seconds(compute, pattern, lat, bw)
                     for lat, bw in zip(latencies_ms, bandwidths_mbps)])


def machine_note(table: pd.DataFrame) -> str:
    ranks = int(table.world_size.max())
    load = f"{table.load_1min_before.min():.1f}-{table.load_1min_after.max():.1f}"
    return (f"{ranks} ranks x {int(table.threads.max())} thread, {int(table.cores_available.max())} cores "
            f"available, 1-min load {load}")
