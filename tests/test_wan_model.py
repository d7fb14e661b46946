"""The analytic WAN model: against a step-by-step simulation of the same link, against the bytes
the methods really sent, and at paper scale against arithmetic done by hand from its inputs."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from sharegrad.train.launch import run_local
from sharegrad.train.trainer import TrainSpec
from sharegrad.wan import model as wan_model
from sharegrad.wan.measure import MeasureSpec
from sharegrad.wan.probes import measure_specs, train_specs
from sharegrad.wan.tables import paper_projection, projection_ratio, with_model


def simulate_step_seconds(compute_s, delay, period, latency_s, send_s, steps=3000) -> float:
    """Step by step: compute, a window closes every p steps and queues on the link, its average is
    waited for t steps later. Mean step time over the second half."""
    now, busy, pending, stamps = 0.0, 0.0, [], []
    for step in range(steps):
        now += compute_s
        if (step + 1) % period == 0:
            busy = max(now, busy) + send_s
            pending.append((step + delay, busy + latency_s))
        for due, arrival in [w for w in pending if w[0] <= step]:
            now = max(now, arrival)
        pending = [w for w in pending if w[0] > step]
        stamps.append(now)
    half = steps // 2
    return (stamps[-1] - stamps[half]) / (steps - 1 - half)


@pytest.mark.parametrize("delay,period", list(itertools.product([0, 1, 3, 4, 20], [1, 2, 5, 20])))
def test_model_matches_a_step_by_step_simulation_of_the_link(delay, period):
    compute = 0.01
    for latency_ms, wire_bytes in itertools.product([0, 10, 300, 6000], [10**3, 10**5, 10**6]):
        pattern = wan_model.Pattern(delay, period, 1, wire_bytes)
        model = wan_model.step_seconds(compute, pattern, latency_ms, 15)
        simulated = simulate_step_seconds(compute, delay, period, latency_ms / 1000,
                                          wan_model.send_seconds(wire_bytes, 15))
        assert model == pytest.approx(simulated, rel=0.02), (latency_ms, wire_bytes)


def test_slides_formula_is_the_model_with_one_window_in_flight():
    pattern = wan_model.Pattern(3, 5, 1, 1000)  # t < p: one window in flight
    for latency_ms in (0, 50, 300, 1000):
        assert wan_model.wait_per_step(0.02, pattern, latency_ms, 1e4) == pytest.approx(
            wan_model.slides_wait_per_step(0.02, pattern, latency_ms, 1e4))
    overlapping = wan_model.Pattern(20, 1, 1, 1000)  # 20 windows in flight share the latency
    assert wan_model.wait_per_step(0.01, overlapping, 1000, 1e4) < wan_model.slides_wait_per_step(
        0.01, overlapping, 1000, 1e4)


def test_paper_scale_projection_follows_from_its_inputs():
    inputs = {"servers": 4, "parameters": 25_600_000, "bytes_per_parameter": 4, "compute_s_per_step": 0.2,
              "compute_source": "test", "momentum": 0.9, "latency_ms": 300, "bandwidth_mbps": 15, "delay": 20,
              "period": 20, "ratio": 0.01, "fast_bandwidth_mbps": 10_000,
              "paper": {"naive": 0.02, "dtc": 0.72, "hidden_latency_s": 6}}
    table = paper_projection(inputs).set_index("method")
    ring = 2 * 3 / 4 * 25_600_000 * 4  # bytes each server sends in a ring all-reduce of the model
    naive_step = 0.2 + 0.3 + 8 * ring / 15e6
    assert table.loc["sync", "scalability"] == pytest.approx(0.2 / naive_step)
    # Delay 20 at 10 Gb/s: waits for nothing while L + S/B <= 20 x 0.2 s.
    assert table.loc["delayed", "hidden_latency_s_fast"] == pytest.approx(20 * 0.2 - 8 * ring / 1e10)
    k = math.ceil(0.01 * 25_600_000)
    # all-gather of int32 indices and float32 values: of the weight change, and with momentum of the
    # momentum change too (dts_topk.py); at 15 Mb/s the momentum values no longer fit in 20 steps
    topk_send = 8 * (3 * k * 12) / 15e6
    assert topk_send > 20 * 0.2
    assert table.loc["delayed_sparse_topk", "hidden_latency_s"] == 0
    # bandwidth-bound: a window's bytes take longer to send than its 20 steps of compute
    assert table.loc["delayed_sparse_topk", "step_s"] == pytest.approx(topk_send / 20)
    assert table.loc["delayed_sparse_topk", "scalability"] > table.loc["sync", "scalability"]
    plain = paper_projection({**inputs, "momentum": 0.0}).set_index("method")
    topk_send_plain = 8 * (3 * k * 8) / 15e6
    assert plain.loc["delayed_sparse_topk", "hidden_latency_s"] == pytest.approx(20 * 0.2 - topk_send_plain)


METHODS = [dict(method="sync"), dict(method="dgc", ratio=0.05), dict(method="delayed", delay=2),
           dict(method="delayed_sparse", delay=1, period=2),
           dict(method="delayed_sparse_topk", delay=2, period=2, ratio=0.05),
           dict(method="localsgd", period=2), dict(method="powersgd", powersgd_rank=2),
           dict(method="diloco", period=3), dict(method="streaming_diloco", period=4, fragments=2, overlap=1)]


def test_bytes_the_model_assumes_are_the_bytes_each_method_sent(digits_file):
    specs = [MeasureSpec(**m, batch_size=16, latencies_ms=[0.0], bandwidths_mbps=[1e4], min_steps=4,
                         min_cycles=1, baseline_steps=2) for m in METHODS]
    ranks = run_local(measure_specs, 2, (specs, digits_file), timeout_s=170)
    for spec, rows in zip(specs, ranks[0]):
        (row,) = rows
        per_step = row["pattern_wire_bytes"] / row["pattern_period"]
        assert row["wire_bytes_per_step"] == pytest.approx(per_step), spec.method
        assert row["scalability"] > 0 and row["compute_per_step_s"] > 0
    assert ranks[0] == ranks[1]  # every rank returns the same agreed rows


def test_topk_dts_sending_everything_is_dts(digits_file):
    """With ratio 1 and plain SGD the top-k variant sends the whole window: the same weights as DTS."""
    common = dict(max_steps=9, batch_size=8, lr=0.1, momentum=0.0, dtype="float64", seed=3)
    specs = [TrainSpec(method="delayed_sparse", delay=1, period=2, **common),
             TrainSpec(method="delayed_sparse_topk", delay=1, period=2, ratio=1.0, **common),
             TrainSpec(method="delayed_sparse_topk", delay=1, period=2, ratio=0.05, **common)]
    ranks = run_local(train_specs, 2, (specs, digits_file), timeout_s=170)
    dense, full, sparse = ranks[0]
    assert torch.allclose(dense["weights"], full["weights"], atol=1e-12, rtol=0)
    assert not torch.allclose(dense["weights"], sparse["weights"], atol=1e-6, rtol=0)


PAPER = dict(world=4, parameters=25_600_000, compute_s=0.2, latency_ms=300, bandwidth_mbps=15)


def test_utilisation_at_paper_scale_by_hand():
    """Sync waits for L + ring bytes / B every step; DTS top-k (20, 20) gathering 1% of 25.6M parameters
    (index, weight and momentum change per entry) is bandwidth-bound at 15 Mb/s: one window per send."""
    shapes = [(PAPER["parameters"],)]
    sync = wan_model.comm_pattern("sync", shapes, PAPER["world"], 0.9)
    ring = 2 * 3 / 4 * PAPER["parameters"] * 4
    assert wan_model.utilisation(0.2, sync, 300, 15) == pytest.approx(0.2 / (0.2 + 0.3 + 8 * ring / 15e6))
    assert not wan_model.bandwidth_bound(0.2, sync, 300, 15)
    topk = wan_model.comm_pattern("delayed_sparse_topk", shapes, PAPER["world"], 0.9, 20, 20, 0.01,
                                  topk_exchange="all_gather")
    send = 8 * 3 * 256_000 * 12 / 15e6
    assert wan_model.bandwidth_bound(0.2, topk, 300, 15)
    assert wan_model.utilisation(0.2, topk, 300, 15) == pytest.approx(0.2 / (send / 20))
    assert wan_model.utilisation(0.2, topk, 300, 10_000) == pytest.approx(1.0)
    diloco = wan_model.comm_pattern("diloco", shapes, PAPER["world"], 0.9, period=100)
    assert wan_model.utilisation(0.2, diloco, 300, 15) == pytest.approx(20 / (20 + 0.3 + 8 * ring / 15e6))


def test_projection_beside_a_measured_row_and_their_ratio():
    """projected = the model fed only the stated compute, the link and the bytes; the ratio is projected over
    measured."""
    import pandas as pd

    ring = int(2 * 3 / 4 * PAPER["parameters"] * 4)
    row = {"compute_s": 0.2, "latency_ms": 300.0, "bandwidth_mbps": 15.0, "pattern_delay": 0, "pattern_period": 1,
           "pattern_rounds": 1, "pattern_wire_bytes": ring, "compute_per_step_s": 0.25, "single_rank_step_s": 0.21,
           "scalability": 0.0021}
    small = {**row, "compute_s": math.nan}
    out = with_model(pd.DataFrame([row, small]))
    # records of runs without padding say None; a table of only those has no projection, and no error
    unpadded = with_model(pd.DataFrame([{**row, "compute_s": None}, {**row, "compute_s": None}]))
    assert unpadded.projected_scalability.isna().all()
    projected = 0.2 / (0.2 + 0.3 + 8 * ring / 15e6)
    assert out.projected_scalability[0] == pytest.approx(projected)
    assert out.projected_over_measured[0] == pytest.approx(projected / 0.0021)
    assert math.isnan(out.projected_scalability[1]) and math.isnan(out.projected_over_measured[1])
    assert projection_ratio(0.5, 0.25) == 2.0


def test_emulated_payload_and_compute_are_measured(digits_file):
    """A payload of 400k parameters on the 38k-parameter digits CNN: the link carries 400k parameters' bytes
    per sync, and every step computes at least the stated time."""
    import pandas as pd

    specs = [MeasureSpec(method=m, delay=d, period=p, topk_exchange=x, batch_size=16, latencies_ms=[20.0],
                         bandwidths_mbps=[100.0], min_steps=4, min_cycles=1, baseline_steps=3, settle_steps=1,
                         compute_s=0.03, payload_parameters=400_000)
             for m, d, p, x in [("sync", 0, 1, "slotted"), ("delayed_sparse_topk", 2, 2, "all_gather")]]
    ranks = run_local(measure_specs, 2, (specs, digits_file), timeout_s=170)
    for spec, rows in zip(specs, ranks[0]):
        (row,) = rows
        assert row["payload_scale"] == pytest.approx(400_000 / 38_282)
        assert row["wire_bytes_per_step"] == pytest.approx(row["pattern_wire_bytes"] / row["pattern_period"],
                                                           rel=1e-3), spec.method
        assert row["compute_per_step_s"] >= 0.03 and row["single_rank_step_s"] >= 0.03
        assert row["real_compute_per_step_s"] < row["compute_per_step_s"]
    sync = ranks[0][0][0]
    assert sync["pattern_wire_bytes"] == round(400_000 * 4)  # a ring all-reduce at 2 ranks sends the payload
    assert sync["step_s"] >= 0.03 + 0.02 + 8 * 1_600_000 / 100e6
    table = with_model(pd.DataFrame([rows[0] for rows in ranks[0]]))
    # the projection from the stated inputs alone, against the emulation of the same inputs
    assert ((table.projected_over_measured > 0.5) & (table.projected_over_measured < 2)).all(), table
