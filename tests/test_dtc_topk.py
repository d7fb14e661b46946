"""Top-k DTS (sync/dts_topk.py) on real gloo groups of 2 and 4 CPU ranks, float64.

With ratio 1 nothing is left behind, so it must be ``delayed_sparse(t, p)`` on
every rank at every step, for vanilla SGD and for momentum 0.9 with weight
decay (the version that kept momentum local drifted by 5e-2). With ratio
0.01 each rank's weights and momentum must be the common state plus its own
terms (residual, open window, sent windows still in flight), at every step.
"""

from __future__ import annotations

import pytest
import torch

from sharegrad.train.harness import run_specs
from sharegrad.train.launch import run_local
from sharegrad.train.trainer import TrainSpec

OPTIMISERS = {"sgd": dict(lr=0.1, momentum=0.0, weight_decay=0.0),
              "momentum": dict(lr=0.05, momentum=0.9, weight_decay=1e-3)}
GRID = [(t, p) for t in (0, 2) for p in (1, 3)]
SPARSE = [("momentum", 2, 3), ("momentum", 0, 1), ("sgd", 2, 3)]  # ratio 0.01
STEPS = 11  # not a multiple of 3: the last window is partial and flushed by finish()


def make_specs() -> list[TrainSpec]:
    common = dict(max_steps=STEPS, batch_size=8, seed=5, dtype="float64")
    specs = []
    for name, opt in OPTIMISERS.items():
        for t, p in GRID:
            specs.append(TrainSpec(method="delayed_sparse", delay=t, period=p, **common, **opt))
            specs.append(TrainSpec(method="delayed_sparse_topk", delay=t, period=p, ratio=1.0, **common, **opt))
    for name, t, p in SPARSE:
        specs.append(TrainSpec(method="delayed_sparse_topk", delay=t, period=p, ratio=0.01, **common,
                               **OPTIMISERS[name]))
    return specs


@pytest.fixture(scope="module", params=[2, 4], ids=["2ranks", "4ranks"])
def runs(request, digits_file):
    specs = make_specs()
    return request.param, specs, run_local(run_specs, request.param, (specs, digits_file), timeout_s=170)


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.allclose(a, b, rtol=1e-9, atol=1e-12)


def test_ratio_one_is_delayed_sparse_on_every_rank_at_every_step(runs):
    world, specs, results = runs
    pairs = 0
    for index, spec in enumerate(specs):
        if spec.method != "delayed_sparse":
            continue
        topk = specs[index + 1]
        assert (topk.method, topk.ratio, topk.delay, topk.period, topk.momentum) == \
            ("delayed_sparse_topk", 1.0, spec.delay, spec.period, spec.momentum)
        for rank in range(world):
            dense, sparse = results[rank][index], results[rank][index + 1]
            assert len(dense["trace"]) == len(sparse["trace"]) == STEPS
            for n in range(STEPS):
                key = (spec.delay, spec.period, spec.momentum, rank, n)
                assert close(dense["trace"][n][1], sparse["trace"][n][1]), key  # weights before step n
                assert close(dense["trace"][n][2], sparse["trace"][n][2]), key  # its local input at step n
            assert close(dense["weights"], sparse["weights"]), (spec.delay, spec.period, spec.momentum, rank)
        pairs += 1
    assert pairs == len(OPTIMISERS) * len(GRID)


def test_ratio_001_ranks_differ_from_the_common_state_by_their_own_terms_at_every_step(runs):
    world, specs, results = runs
    checked = 0
    for index, spec in enumerate(specs):
        if spec.method != "delayed_sparse_topk" or spec.ratio != 0.01:
            continue
        for n in range(STEPS):
            # trace entry: (step, w before, v, w after, u after, own w, own u)
            entries = [results[rank][index]["trace"][n] for rank in range(world)]
            common_w = [e[3] - e[5] for e in entries]
            for rank in range(1, world):
                assert close(common_w[rank], common_w[0]), (spec.delay, spec.period, spec.momentum, rank, n)
                if spec.momentum:
                    assert close(entries[rank][4] - entries[rank][6], entries[0][4] - entries[0][6]), \
                        (spec.delay, spec.period, rank, n)
            # the own terms are real: the ranks' weights differ by them
            assert not close(entries[0][3], entries[1][3]), (spec.delay, spec.period, spec.momentum, n)
        checked += 1
    assert checked == len(SPARSE)
    # after the flush nothing is in flight and no window is open: the ranks keep their residuals
    for index, spec in enumerate(specs):
        if spec.method == "delayed_sparse_topk" and spec.ratio == 0.01:
            finals = [results[rank][index]["weights"] for rank in range(world)]
            assert not close(finals[0], finals[1])
