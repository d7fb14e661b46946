"""The trainer's bookkeeping around the sync methods, on real gloo groups of 2 CPU ranks (float64).

- The final flush (``finish()``: the last, partial window's collective and its wait) is counted in the
  last per-epoch row: sparse p=5 over 16 steps issues 4 collectives, and the rows must say 4.
- BatchNorm buffers: every rank ends with rank 0's buffers (spread 0), and those are what DDP's
  rank 0 holds; without the broadcast the ranks' running statistics follow their own shards.
- The last broadcast of the buffers is counted in the last row, and nothing a run counted is left on
  the communicator for the next run (the harness reuses one, as the benchmarks do).
"""

from __future__ import annotations

import pytest
import torch

from sharegrad.train.harness import run_specs
from sharegrad.train.launch import run_local
from sharegrad.train.models import build_train_model
from sharegrad.train.trainer import TrainSpec

RESNET = dict(model="resnet20", max_steps=3, batch_size=4, lr=0.05, momentum=0.9, weight_decay=1e-3, seed=1,
              dtype="float64")


@pytest.fixture(scope="module")
def runs(digits_file):
    specs = [TrainSpec(method="sparse", period=5, max_steps=16, batch_size=8, seed=2, dtype="float64"),
             TrainSpec(method="delayed_sparse", delay=3, period=5, max_steps=16, batch_size=8, seed=2,
                       dtype="float64"),
             TrainSpec(method="sync", **RESNET), TrainSpec(method="ddp", **RESNET),
             TrainSpec(method="sync", **RESNET)]  # the same run again, on the same communicator
    return specs, run_local(run_specs, 2, (specs, digits_file), timeout_s=170)


def test_the_final_flush_is_counted_in_the_last_row(runs):
    specs, results = runs
    for index in (0, 1):
        rows = results[0][index]["curves"]
        numel = results[0][index]["weights"].numel()
        assert sum(row["collectives"] for row in rows) == 4  # windows closing at steps 5, 10, 15 and the flush
        # momentum 0: a window sends its weight change, float64, one ring all-reduce between 2 ranks
        assert sum(row["bytes_sent"] for row in rows) == 4 * numel * 8


def test_batchnorm_buffers_are_rank_zeros_on_every_rank_as_under_ddp(runs):
    specs, results = runs
    sync = [results[rank][2] for rank in range(2)]
    ddp = [results[rank][3] for rank in range(2)]
    fresh = build_train_model("resnet20", 10, 1, RESNET["seed"]).double()
    initial = torch.cat([b.detach().double().reshape(-1) for b in fresh.buffers()])
    assert sync[0]["buffers"].shape == initial.shape and not torch.allclose(sync[0]["buffers"], initial)
    for record in sync + ddp:
        assert record["final"]["buffer_sum_spread"] == 0
        assert record["final"]["weight_sum_spread"] == 0
    assert torch.equal(sync[0]["buffers"], sync[1]["buffers"])
    assert torch.allclose(sync[0]["buffers"], ddp[0]["buffers"], rtol=1e-9, atol=1e-12)
    assert torch.allclose(sync[0]["weights"], ddp[0]["weights"], rtol=1e-9, atol=1e-12)


def test_the_last_buffer_broadcast_is_in_the_last_row_and_nothing_leaks_into_the_next_run(runs):
    specs, results = runs
    for rank in range(2):
        first, again = results[rank][2], results[rank][4]
        # 3 gradient all-reduces, then one broadcast per buffer dtype (float64 statistics, int64 counts)
        assert [row["collectives"] for row in first["curves"]] == [3 + 2]
        counted = [(row["collectives"], row["bytes_sent"], row["payload_bytes"]) for row in first["curves"]]
        assert counted == [(row["collectives"], row["bytes_sent"], row["payload_bytes"]) for row in again["curves"]]
        for record in results[rank]:
            assert record["left_over"]["calls"] == 0 and record["left_over"]["bytes_sent"] == 0, record["label"]
        assert torch.equal(first["weights"], again["weights"])
