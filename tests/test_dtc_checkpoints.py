"""The bookkeeping around training checkpoints (sharegrad.train.checkpoint, trainer).

- A run killed and resumed reports, epoch by epoch, the collectives and bytes of an uninterrupted run
  (the checkpoint carries the communication counters of the epoch it was written in), and ends with
  the same weights, for DTS with windows in flight and Streaming DiLoCo with fragments in flight.
- A method that cannot checkpoint is refused before its first step.
- One run writes a checkpoint folder at a time: a live owner's lock is refused, a dead owner's is taken
  over with a message, and a process whose lock was taken over writes nothing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys

import pytest
import torch

from sharegrad.cli import main as cli_main
from sharegrad.errors import UserError
from sharegrad.sync.comm import Communicator
from sharegrad.train import checkpoint
from sharegrad.train.data import load_train_data
from sharegrad.train.harness import run_with_checkpoints
from sharegrad.train.launch import run_local
from sharegrad.train.trainer import TrainSpec, train

# 21 steps per epoch (2 ranks, batch 32): rows at 21, 42 and 50; a checkpoint every 10 steps; the
# ranks are killed at step 15, so the run resumes from step 10, inside the first epoch.
COMMON = dict(max_steps=50, batch_size=32, seed=6, dtype="float64", checkpoint_every=10, lr=0.05, momentum=0.9,
              weight_decay=1e-3)
METHODS = {"delayed_sparse": dict(method="delayed_sparse", delay=2, period=3),
           "streaming_diloco": dict(method="streaming_diloco", period=4, fragments=2, overlap=1, mix=0.5)}
COUNTED = ("collectives", "bytes_sent", "payload_bytes")


@pytest.fixture(scope="module", params=list(METHODS))
def runs(request, digits_file, tmp_path_factory):
    spec = TrainSpec(**COMMON, **METHODS[request.param])
    straight = run_local(run_with_checkpoints, 2, (spec, digits_file, None))
    folder = tmp_path_factory.mktemp("checkpoints") / "run"
    killed = dataclasses.replace(spec, die_at_step=15, die_rank=-1)
    with pytest.raises(RuntimeError, match="failed"):
        run_local(run_with_checkpoints, 2, (killed, digits_file, str(folder)))
    assert json.loads((folder / "latest.json").read_text())["step"] == 10
    resumed = run_local(run_with_checkpoints, 2, (spec, digits_file, str(folder)))
    return straight, resumed, folder


def test_a_resumed_run_counts_the_collectives_and_bytes_of_an_uninterrupted_one(runs):
    straight, resumed, _ = runs
    for rank in range(2):
        assert resumed[rank]["resumed_from_step"] == 10
        ours, theirs = resumed[rank]["curves"], straight[rank]["curves"]
        assert [row["steps"] for row in ours] == [21, 42, 50]
        for mine, whole in zip(ours, theirs):
            assert {k: mine[k] for k in COUNTED} == {k: whole[k] for k in COUNTED}, (rank, mine["steps"])
        assert ours[0]["collectives"] > 0
        assert torch.equal(resumed[rank]["weights"], straight[rank]["weights"])


def test_the_lock_of_the_killed_run_was_taken_over_and_released(runs):
    _, _, folder = runs
    assert not (folder / checkpoint.LOCK_NAME).exists()


def test_a_method_that_cannot_checkpoint_is_refused_before_its_first_step(digits_file, tmp_path, capsys,
                                                                          monkeypatch):
    import sharegrad.train.trainer as trainer

    batches = []
    real = trainer.get_batch
    monkeypatch.setattr(trainer, "get_batch", lambda *args: batches.append(args[-1]) or real(*args))
    status = cli_main(["train", "--data-root", digits_file, "--device", "cpu", "--method", "delayed_sparse_topk",
                       "--delay", "2", "--period", "2", "--max-steps", "8", "--batch-size", "8",
                       "--checkpoint-dir", str(tmp_path / "ckpt"), "--checkpoint-every", "3",
                       "--out", str(tmp_path / "run.json")])
    assert status == 2
    assert "does not checkpoint" in capsys.readouterr().err
    assert batches == []  # not one step trained
    assert not (tmp_path / "run.json").exists()


def write_lock(folder, pid: int, host: str | None = None, token: str = "another run") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    record = {"pid": pid, "host": host or socket.gethostname(), "token": token}
    (folder / checkpoint.LOCK_NAME).write_text(json.dumps(record))


def small_run(digits_file, folder):
    spec = TrainSpec(method="sync", max_steps=6, batch_size=8, checkpoint_every=2)
    return train(spec, Communicator(), torch.device("cpu"), folder, progress=False,
                 data=load_train_data("digits", digits_file))


def dead_pid() -> int:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    return gone.pid


@pytest.mark.parametrize("owner", ["this live process", "a process on another host"])
def test_a_folder_another_run_holds_is_refused_and_left_alone(digits_file, tmp_path, owner):
    folder = tmp_path / "ckpt"
    pid, host = (os.getpid(), None) if owner == "this live process" else (dead_pid(), "elsewhere")
    write_lock(folder, pid, host)
    with pytest.raises(UserError) as caught:
        small_run(digits_file, folder)
    message = str(caught.value)
    assert str(folder) in message and f"process {pid} on {host or socket.gethostname()}" in message
    assert [p.name for p in folder.iterdir()] == [checkpoint.LOCK_NAME]  # nothing written
    assert json.loads((folder / checkpoint.LOCK_NAME).read_text())["token"] == "another run"


def test_a_dead_owners_lock_is_taken_over_with_a_message_and_released_at_the_end(digits_file, tmp_path, capsys):
    folder = tmp_path / "ckpt"
    pid = dead_pid()
    write_lock(folder, pid)
    small_run(digits_file, folder)
    assert f"taking over the lock of process {pid}" in capsys.readouterr().err
    assert json.loads((folder / "latest.json").read_text())["step"] == 4
    assert not (folder / checkpoint.LOCK_NAME).exists()


def test_a_process_whose_lock_was_taken_over_writes_nothing(tmp_path):
    folder, comm = tmp_path / "ckpt", Communicator()
    lock = checkpoint.FolderLock.acquire(folder, comm)
    write_lock(folder, os.getpid(), token="the resumed run")  # what a takeover leaves
    with pytest.raises(UserError, match="no longer this run's"):
        checkpoint.save(folder, comm, 4, {"step": 4}, "fingerprint", lock)
    assert [p.name for p in folder.iterdir()] == [checkpoint.LOCK_NAME]
    lock.release()  # not ours any more: left in place
    assert json.loads((folder / checkpoint.LOCK_NAME).read_text())["token"] == "the resumed run"
