"""The distributed DTS implementation against the single-process reference, on real gloo groups.

One group of 2 and one of 4 CPU ranks each run every schedule (t in {0,1,3},
p in {1,2,5}, both halves together, the ablations) for vanilla SGD and for
momentum SGD with weight decay, in float64; every rank's weights must match
the reference at every step and at the end. The ``sync`` rows are also checked
against torch.optim.SGD on the averaged gradients, which shares no code with
sharegrad's optimizer or the reference.
"""

from __future__ import annotations

import pytest
import torch

from sharegrad.train.data import get_batch, load_train_data, steps_per_epoch
from sharegrad.train.harness import run_specs
from sharegrad.train.launch import run_local
from sharegrad.train.models import build_train_model
from sharegrad.train.reference import simulate
from sharegrad.train.trainer import TrainSpec

OPTIMISERS = {"sgd": dict(lr=0.1, momentum=0.0, weight_decay=0.0),
              "momentum": dict(lr=0.05, momentum=0.9, weight_decay=1e-3)}
SCHEDULES = [("sync", 0, 1), ("delayed", 0, 1), ("delayed", 1, 1), ("delayed", 3, 1),
             ("sparse", 0, 1), ("sparse", 0, 2), ("sparse", 0, 5), ("delayed_sparse", 3, 2),
             ("delayed_nocomp", 3, 1), ("sparse_nocomp", 0, 2),
             ("ddp", 0, 1)]  # torch's DDP + torch.optim.SGD: what `sync` must equal
STEPS = 11  # not a multiple of 2 or 5: the last window is partial and flushed at the end


def make_specs() -> list[TrainSpec]:
    specs = []
    for opt in OPTIMISERS.values():
        for method, delay, period in SCHEDULES:
            specs.append(TrainSpec(method=method, delay=delay, period=period, max_steps=STEPS, batch_size=8,
                                   seed=3, dtype="float64", **opt))
    return specs


@pytest.fixture(scope="module", params=[2, 4], ids=["2ranks", "4ranks"])
def runs(request, digits_file):
    world = request.param
    specs = make_specs()
    results = run_local(run_specs, world, (specs, digits_file), timeout_s=170)
    return world, specs, results, load_train_data("digits", digits_file)


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    # float64: in float32 a rounding difference of 1e-8 can flip a ReLU or a max-pool
    # tie and grow to 1e-5 within a few steps, which would hide real errors in the noise.
    return torch.allclose(a, b, rtol=1e-9, atol=1e-12)


def test_every_rank_matches_the_reference_at_every_step_and_at_the_end(runs):
    world, specs, results, data = runs
    for index, spec in enumerate(specs):
        reference = simulate(spec, world, data)
        for rank in range(world):
            mine = results[rank][index]
            assert close(mine["weights"], reference["final"][rank]), (spec.method, spec.delay, spec.period, rank)
            if mine["trace"] is None:  # ddp: torch's optimizer, no per-step trace
                continue
            steps = [entry[1] for entry in mine["trace"]]
            assert len(steps) == STEPS
            for n, weights in enumerate(steps):
                assert close(weights, reference["states"][n][rank]), (spec.method, spec.delay, spec.period,
                                                                      spec.momentum, rank, n)


def torch_sgd_replay(spec: TrainSpec, world: int, data) -> list[torch.Tensor]:
    """Synchronous SGD written with torch.optim.SGD (not sharegrad's sgd_step): every step each worker's
    gradient on its batch at the common weights, averaged, then one optimizer step. The weights before
    each step, then the final ones."""
    model = build_train_model(spec.model, data.num_classes, data.in_channels, spec.seed).to(getattr(torch, spec.dtype))
    optimizer = torch.optim.SGD(model.parameters(), lr=spec.lr, momentum=spec.momentum,
                                weight_decay=spec.weight_decay)
    per_epoch = steps_per_epoch(len(data.y_train), world, spec.batch_size)
    states = []
    for n in range(STEPS):
        states.append(torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone())
        epoch, in_epoch = divmod(n, per_epoch)
        grads = [torch.zeros_like(p) for p in model.parameters()]
        for j in range(world):
            x, y = get_batch(data, world, j, spec.batch_size, epoch, in_epoch, spec.seed, n)
            model.zero_grad()
            torch.nn.functional.cross_entropy(model(x.to(getattr(torch, spec.dtype))), y).backward()
            for total, p in zip(grads, model.parameters()):
                total += p.grad / world
        for total, p in zip(grads, model.parameters()):
            p.grad = total
        optimizer.step()
    states.append(torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone())
    return states


def test_sync_rows_equal_torch_sgd_at_every_step(runs):
    """Independent of sync/sgd.py and of the reference: torch's own optimizer on the averaged gradients."""
    world, specs, results, data = runs
    checked = 0
    for index, spec in enumerate(specs):
        if spec.method != "sync":
            continue
        expected = torch_sgd_replay(spec, world, data)
        for rank in range(world):
            steps = [entry[1] for entry in results[rank][index]["trace"]]
            assert len(steps) == STEPS
            for n, weights in enumerate(steps):
                assert close(weights, expected[n]), (spec.momentum, rank, n)
            assert close(results[rank][index]["weights"], expected[STEPS]), (spec.momentum, rank)
        checked += 1
    assert checked == len(OPTIMISERS)


def test_delay_zero_and_period_one_equal_sync(runs):
    world, specs, results, _ = runs
    for optimiser_block in range(len(OPTIMISERS)):
        block = list(range(optimiser_block * len(SCHEDULES), (optimiser_block + 1) * len(SCHEDULES)))
        sync_weights = results[0][block[0]]["weights"]
        for index in block[1:]:
            spec = specs[index]
            if (spec.method, spec.delay, spec.period) in (("delayed", 0, 1), ("sparse", 0, 1)):
                assert close(results[0][index]["weights"], sync_weights)
            elif spec.method in ("delayed", "sparse"):  # a real delay or period changes the weights
                assert not close(results[0][index]["weights"], sync_weights)


def test_delayed_update_invariant_holds_at_every_step(runs):
    """w_{n,j} = w_0 - lr sum_{i<=n-1-t} mean_v_i - lr sum_{n-t<=i<=n-1} v_{i,j} (vanilla SGD)."""
    world, specs, results, _ = runs
    for index, spec in enumerate(specs):
        if spec.method != "delayed" or spec.momentum != 0:
            continue
        t, lr = spec.delay, spec.lr
        local = [[entry[2] for entry in results[rank][index]["trace"]] for rank in range(world)]
        weights = [[entry[1] for entry in results[rank][index]["trace"]] for rank in range(world)]
        averages = [torch.stack([local[r][i] for r in range(world)]).mean(0) for i in range(STEPS)]
        w0 = weights[0][0]
        for rank in range(world):
            for n in range(STEPS):
                expected = w0.clone()
                for i in range(n):
                    expected -= lr * (averages[i] if i <= n - 1 - t else local[rank][i])
                assert close(weights[rank][n], expected), (t, rank, n)
        if t > 0 and world > 1:  # ranks really differ while averages are in flight
            assert not close(weights[0][STEPS - 1], weights[1][STEPS - 1])


def test_compensated_ranks_agree_after_the_final_flush_and_ablation_differs(runs):
    world, specs, results, _ = runs
    for index, spec in enumerate(specs):
        finals = [results[rank][index]["weights"] for rank in range(world)]
        assert all(close(finals[0], other) for other in finals[1:]), spec.method
    by_key = {(s.method, s.delay, s.period, s.momentum): i for i, s in enumerate(specs)}
    for momentum in (0.0, 0.9):
        comp = results[0][by_key[("delayed", 3, 1, momentum)]]["weights"]
        nocomp = results[0][by_key[("delayed_nocomp", 3, 1, momentum)]]["weights"]
        assert not close(comp, nocomp)
