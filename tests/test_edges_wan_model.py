"""The WAN model and its table at their edges (sharegrad.wan.model, sharegrad.wan.tables), and local
SGD's own count of what it sends and waits (sharegrad.sync.localsgd).

Worked by hand: a method of several sequential rounds (DGC: values, then indices) pays the latency
once per round; the table's model scalability is the solo step time over the predicted N-rank step
time; local SGD sends the whole model once per period (no momentum state: its buffers stay local),
so its wait is one collective per p steps, and its counters record bytes and waits on exactly the
steps its averager averages."""

from __future__ import annotations

import math
import time

import pandas as pd
import pytest
import torch

from sharegrad.sync.comm import CommCounters, ring_bytes
from sharegrad.wan import model as wan_model
from sharegrad.wan.tables import with_model

SHAPES = [(100, 10), (100,)]  # 1100 parameters
NUMEL = 1100


def test_dgc_pays_the_latency_once_per_round():
    """DGC sends its top 1% as two blocking all-gathers: 11 entries, 44 bytes of values then 44 of indices,
    each forwarded to the N - 1 = 1 other rank. At 100 ms and 8 Mb/s: 2 x 0.1 s + 88 x 8 / 8e6 s."""
    pattern = wan_model.comm_pattern("dgc", SHAPES, world_size=2, momentum=0.9, ratio=0.01)
    assert (pattern.rounds, pattern.wire_bytes, pattern.delay, pattern.period) == (2, 88, 0, 1)
    assert wan_model.comm_seconds(pattern, 100.0, 8.0) == pytest.approx(0.2 + 88e-6)
    assert wan_model.step_seconds(0.05, pattern, 100.0, 8.0) == pytest.approx(0.05 + 0.2 + 88e-6)
    assert wan_model.largest_hidden_latency_ms(0.05, pattern, 8.0) == 0.0  # no delay: nothing hides


def test_a_one_round_method_pays_it_once():
    pattern = wan_model.comm_pattern("sync", SHAPES, world_size=2, momentum=0.9)
    assert pattern.rounds == 1 and pattern.wire_bytes == ring_bytes(NUMEL * 4, 2) == 4400
    assert wan_model.comm_seconds(pattern, 100.0, 8.0) == pytest.approx(0.1 + 4400e-6)


def test_local_sgd_sends_the_model_once_per_period_and_waits_once_per_period():
    """Period 4: one all-reduce of the 4400-byte model (no momentum shadow: averaged weights only) every
    4 steps; at 100 ms, 8 Mb/s and 50 ms of compute a cycle is 4 x 0.05 + 0.1 + 0.0044 s."""
    pattern = wan_model.comm_pattern("localsgd", SHAPES, world_size=2, momentum=0.9, period=4)
    assert (pattern.delay, pattern.period, pattern.rounds, pattern.wire_bytes) == (0, 4, 1, 4400)
    assert wan_model.step_seconds(0.05, pattern, 100.0, 8.0) == pytest.approx((0.2 + 0.1 + 0.0044) / 4)
    assert wan_model.wait_per_step(0.05, pattern, 100.0, 8.0) == pytest.approx((0.1 + 0.0044) / 4)


def point(**overrides) -> dict:
    sync = wan_model.comm_pattern("sync", SHAPES, world_size=2, momentum=0.9)
    return {"pattern_delay": sync.delay, "pattern_period": sync.period, "pattern_rounds": sync.rounds,
            "pattern_wire_bytes": 1_000_000, "compute_per_step_s": 0.1, "single_rank_step_s": 0.08,
            "latency_ms": 100.0, "bandwidth_mbps": 80.0, "scalability": 0.25, "compute_s": math.nan,
            **overrides}


def test_the_tables_model_scalability_is_the_solo_step_over_the_predicted_step():
    """1 MB at 80 Mb/s is 0.1 s, plus 0.1 s of latency: the model's step is 0.1 + 0.2 = 0.3 s on the run's
    own compute, so its scalability is the solo 0.08 s over 0.3 s; fed the solo step as compute, 0.08 / 0.28.
    The measured 0.25 is 6.25% below the first."""
    (row,) = with_model(pd.DataFrame([point()])).to_dict("records")
    assert row["model_step_s"] == pytest.approx(0.3)
    assert row["model_wait_per_step_s"] == pytest.approx(0.2)
    assert row["model_scalability"] == pytest.approx(0.08 / 0.3)
    assert row["scalability_vs_model"] == pytest.approx(0.25 / (0.08 / 0.3) - 1)
    assert row["model_scalability_solo_compute"] == pytest.approx(0.08 / 0.28)
    assert row["scalability_vs_solo_model"] == pytest.approx(0.25 / (0.08 / 0.28) - 1)


class FakeComm:
    world_size = 2

    def __init__(self):
        self.counters = CommCounters()
        self.counted_at: list[int] = []
        self.step = None

    def count_external(self, payload_bytes, op="all_reduce"):
        self.counted_at.append(self.step)
        self.counters.bytes_sent += payload_bytes


def test_local_sgd_counts_bytes_and_waits_on_the_averagers_own_steps(monkeypatch):
    """torch's PeriodicModelAverager (warm-up 3, period 4) averages at its steps 3, 7, 11; the method's
    counters must record one model's bytes at exactly those steps and nowhere else."""
    from torch.distributed.algorithms.model_averaging import averagers

    from sharegrad.sync.localsgd import PostLocalSGD

    averaged_at = []
    monkeypatch.setattr(averagers.utils, "average_parameters_or_parameter_groups",
                        lambda params, group: (averaged_at.append(current["step"]), time.sleep(0.01)))
    method = PostLocalSGD(period=4, warmup_steps=3)
    method.comm = FakeComm()
    method.model = torch.nn.Linear(2, 1)
    method.param_bytes = 12
    method.averager = averagers.PeriodicModelAverager(period=4, warmup_steps=3, process_group=object())
    current = {"step": None}
    for step in range(13):
        current["step"] = method.comm.step = step
        method.after_step(step)
    assert averaged_at == [3, 7, 11]
    assert method.comm.counted_at == averaged_at
    assert method.comm.counters.bytes_sent == 3 * 12
    assert method.comm.counters.wait_seconds >= 0.03  # the three averagings' 10 ms each
