"""DiLoCo and Streaming DiLoCo (sync/diloco.py) against a plain re-implementation written here.

The re-implementation shares no code with the method: every rank is a model of its own with
torch.optim.SGD as the inner optimiser, the outer Nesterov step is written out per parameter,
and the fragments and their schedule are spelled out by hand. The distributed runs are real gloo
groups of 2 CPU ranks, float64; every rank's weights must match before every step and at the end.
"""

from __future__ import annotations

import pytest
import torch

from sharegrad.errors import UserError
from sharegrad.sync.comm import Communicator
from sharegrad.train.data import get_batch, load_train_data, steps_per_epoch
from sharegrad.train.harness import run_specs
from sharegrad.train.launch import run_local
from sharegrad.train.models import build_train_model
from sharegrad.train.trainer import TrainSpec, train

STEPS = 11
WORLD = 2
INNER = dict(lr=0.05, momentum=0.9, weight_decay=1e-3)
COMMON = dict(max_steps=STEPS, batch_size=8, seed=4, dtype="float64", **INNER)
# digits_cnn's parameter-holding modules in order: conv1, conv2, fc1, fc2. Strided fragments deal
# them out in turn: with F = 2, fragment 0 is conv1 + fc1 and fragment 1 is conv2 + fc2.
MODULES = ["conv1", "conv2", "fc1", "fc2"]

SPECS = {
    "diloco": TrainSpec(method="diloco", period=3, **COMMON),
    "streaming_overlap_mix": TrainSpec(method="streaming_diloco", period=4, fragments=2, overlap=1, mix=0.5,
                                       **COMMON),
    "streaming_four_overlap2": TrainSpec(method="streaming_diloco", period=4, fragments=4, overlap=2,
                                         outer_lr=0.5, outer_momentum=0.8, **COMMON),
    "diloco_h1_plain": TrainSpec(method="diloco", period=1, outer_lr=1.0, outer_momentum=0.0, **COMMON),
    "sync": TrainSpec(method="sync", **COMMON),
}


@pytest.fixture(scope="module")
def runs(digits_file):
    names = list(SPECS)
    results = run_local(run_specs, WORLD, ([SPECS[n] for n in names], digits_file), timeout_s=170)
    return {name: [results[rank][i] for rank in range(WORLD)] for i, name in enumerate(names)}, \
        load_train_data("digits", digits_file)


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.allclose(a, b, rtol=0, atol=1e-12)


def flat(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()


def replay(spec: TrainSpec, data, world: int) -> tuple[list[list[torch.Tensor]], list[torch.Tensor], list[tuple]]:
    """Streaming DiLoCo by the paper's recipe, one model per rank. Returns the weights before each step
    (per step, per rank), the final weights per rank, and the (steps done, fragment) of each sync started."""
    fragments = spec.fragments if spec.method == "streaming_diloco" else 1
    tau = spec.overlap if spec.method == "streaming_diloco" else 0
    alpha = spec.mix if spec.method == "streaming_diloco" else 0.0
    H, lr_out, m_out = spec.period, spec.outer_lr, spec.outer_momentum
    dtype = getattr(torch, spec.dtype)
    models = [build_train_model(spec.model, data.num_classes, data.in_channels, spec.seed).to(dtype)
              for _ in range(world)]
    inner = [torch.optim.SGD(m.parameters(), lr=spec.lr, momentum=spec.momentum, weight_decay=spec.weight_decay)
             for m in models]
    names = [name for name, _ in models[0].named_parameters()]
    member = {name: MODULES.index(name.split(".")[0]) % fragments for name in names}
    offset = [H * (f + 1) // fragments for f in range(fragments)]
    global_ = {name: p.detach().clone() for name, p in models[0].named_parameters()}
    buffer = {name: torch.zeros_like(p) for name, p in global_.items()}
    pending, started = [], []
    per_epoch = steps_per_epoch(len(data.y_train), world, spec.batch_size)
    before = []

    def arrive(fragment, delta):
        for name in names:
            if member[name] != fragment:
                continue
            buffer[name] = m_out * buffer[name] + delta[name]
            global_[name] = global_[name] - lr_out * (delta[name] + m_out * buffer[name])
            for model in models:
                local = dict(model.named_parameters())[name]
                local.data = alpha * local.data + (1 - alpha) * global_[name]

    for n in range(STEPS):
        before.append([flat(m) for m in models])
        epoch, in_epoch = divmod(n, per_epoch)
        for j, (model, optimiser) in enumerate(zip(models, inner)):
            x, y = get_batch(data, world, j, spec.batch_size, epoch, in_epoch, spec.seed, n)
            optimiser.zero_grad()
            torch.nn.functional.cross_entropy(model(x.to(dtype)), y).backward()
            optimiser.step()
        done = n + 1
        for f in range(fragments):
            if done >= offset[f] and (done - offset[f]) % H == 0:
                started.append((done, f))
                locals_ = [dict(m.named_parameters()) for m in models]
                delta = {name: sum(global_[name] - local[name].detach() for local in locals_) / world
                         for name in names if member[name] == f}
                pending.append((done + tau, f, delta))
        for item in [p for p in pending if p[0] <= done]:
            arrive(item[1], item[2])
            pending.remove(item)
    for _, f, delta in pending:
        arrive(f, delta)
    final = sum(flat(m) for m in models) / world  # the final model: the ranks' average
    return before, [final] * world, started


@pytest.mark.parametrize("name", ["diloco", "streaming_overlap_mix", "streaming_four_overlap2", "diloco_h1_plain"])
def test_every_rank_matches_the_replay_before_every_step_and_at_the_end(runs, name):
    results, data = runs
    before, final, _ = replay(SPECS[name], data, WORLD)
    for rank in range(WORLD):
        mine = results[name][rank]
        steps = [entry[1] for entry in mine["trace"]]
        assert len(steps) == STEPS
        for n, weights in enumerate(steps):
            assert close(weights, before[n][rank]), (name, rank, n, float((weights - before[n][rank]).abs().max()))
        assert close(mine["weights"], final[rank]), (name, rank)
    assert close(results[name][0]["weights"], results[name][1]["weights"])  # the ranks end equal


def test_ranks_really_differ_between_syncs(runs):
    results, _ = runs
    trace = [results["diloco"][rank]["trace"] for rank in range(WORLD)]
    assert not close(trace[0][2][1], trace[1][2][1])   # after 2 local steps
    assert close(trace[0][3][1], trace[1][3][1])       # after the outer step at 3: both hold theta


def test_h1_outer_lr1_momentum0_is_synchronous_sgd(runs):
    """Every step starts from the common weights, so the mean pseudo-gradient is lr times the mean of the
    ranks' momentum buffers, which obeys sync's recursion: equal to sync (momentum 0.9, weight decay)."""
    results, _ = runs
    for rank in range(WORLD):
        ours = [entry[1] for entry in results["diloco_h1_plain"][rank]["trace"]]
        sync = [entry[1] for entry in results["sync"][rank]["trace"]]
        for n in range(STEPS):
            assert close(ours[n], sync[n]), (rank, n)
        assert close(results["diloco_h1_plain"][rank]["weights"], results["sync"][rank]["weights"])
    # the default outer optimiser is not sync
    assert not close(results["diloco"][0]["weights"], results["sync"][0]["weights"])


def fragment_numel(model, fragments: int) -> list[int]:
    sizes = [0] * fragments
    for name, p in model.named_parameters():
        sizes[MODULES.index(name.split(".")[0]) % fragments] += p.numel()
    return sizes


def test_collectives_and_bytes_are_the_syncs_and_the_final_average(runs):
    results, data = runs
    model = build_train_model("digits_cnn", data.num_classes, data.in_channels, 0)
    whole = sum(p.numel() for p in model.parameters())
    ring = lambda numel: 2 * (WORLD - 1) * numel * 8 // WORLD  # float64 all-reduce, per rank  # noqa: E731
    rows = results["diloco"][0]["curves"]
    # H = 3 over 11 steps: outer steps at 3, 6, 9; steps 10-11 are averaged at the end
    assert sum(r["collectives"] for r in rows) == 4
    assert sum(r["bytes_sent"] for r in rows) == 4 * ring(whole)
    f0, f1 = fragment_numel(model, 2)
    rows = results["streaming_overlap_mix"][0]["curves"]
    # H = 4, F = 2: fragment 0 at 2, 6, 10 and fragment 1 at 4, 8, then the final average
    assert sum(r["collectives"] for r in rows) == 6
    assert sum(r["bytes_sent"] for r in rows) == 3 * ring(f0) + 2 * ring(f1) + ring(whole)


class Recording(Communicator):
    """One rank alone; records the size of every all-reduce."""

    def __init__(self):
        super().__init__()
        self.sizes = []

    def all_reduce(self, tensor, async_op=False, average=True):
        self.sizes.append(tensor.numel())
        return super().all_reduce(tensor, async_op, average)


def test_the_fragment_schedule_is_staggered_and_strided(digits_file):
    """H = 8, F = 4: offsets 2, 4, 6, 8; fragment f is module f (four modules, strided = one each)."""
    data = load_train_data("digits", digits_file)
    spec = TrainSpec(method="streaming_diloco", period=8, fragments=4, overlap=1, max_steps=20, batch_size=8,
                     dtype="float64")
    comm = Recording()
    record = train(spec, comm, torch.device("cpu"), progress=False, data=data)
    sizes = fragment_numel(record["model"], 4)
    starts = [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]  # steps done when a sync starts
    fragment_of = [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    assert comm.sizes == [sizes[f] for f in fragment_of]  # world size 1: no final average
    assert sum(row["collectives"] for row in record["curves"]) == len(starts)
    assert sizes[0] == 1 * 16 * 9 + 16 and sizes[3] == 64 * 10 + 10  # conv1 and fc2


@pytest.mark.parametrize("options, words", [
    (dict(method="diloco", period=4, fragments=2), "takes no fragments"),
    (dict(method="sync", outer_lr=0.5), "takes no outer_lr"),
    (dict(method="streaming_diloco", period=4, fragments=2, overlap=4), "must be < period"),
    (dict(method="streaming_diloco", period=2, fragments=3), "at least as many inner steps"),
    (dict(method="diloco", outer_momentum=1.0), "outer momentum must be in [0, 1)"),
    (dict(method="streaming_diloco", period=4, mix=1.5), "mix alpha must be in [0, 1]"),
])
def test_nonsense_options_are_refused(options, words):
    with pytest.raises(UserError) as caught:
        TrainSpec(**options).validate()
    assert words in str(caught.value)


def test_more_fragments_than_modules_is_refused(digits_file):
    data = load_train_data("digits", digits_file)
    spec = TrainSpec(method="streaming_diloco", period=8, fragments=5, max_steps=2, batch_size=8)
    with pytest.raises(UserError, match="only 4 parameter-holding modules"):
        train(spec, Communicator(), torch.device("cpu"), progress=False, data=data)
