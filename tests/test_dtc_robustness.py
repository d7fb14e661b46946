"""Checkpoints, dead ranks and refusals of ``sharegrad train`` (real processes, gloo, CPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import torch

from sharegrad.cli import main as cli_main
from sharegrad.errors import UserError
from sharegrad.train.data import steps_per_epoch
from sharegrad.train.launch import free_port


def train_args(digits_file, out_dir, *extra):
    # delayed + sparse with momentum: a checkpoint must carry the in-flight averages too
    return ["train", "--data-root", digits_file, "--method", "delayed_sparse", "--delay", "2", "--period", "3",
            "--momentum", "0.9", "--weight-decay", "1e-3", "--lr", "0.05", "--batch-size", "16", "--max-steps", "30",
            "--device", "cpu", "--comm-timeout", "20", "--out", str(out_dir / "run.json"),
            "--save-model", str(out_dir / "model.pt"), *extra]


def torchrun(args, timeout=120):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "sharegrad.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_killed_run_resumes_and_ends_with_the_weights_of_an_uninterrupted_run(digits_file, tmp_path):
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    whole.mkdir(), broken.mkdir()
    done = torchrun(train_args(digits_file, whole))
    assert done.returncode == 0, done.stderr[-2000:]

    checkpoints = ["--checkpoint-dir", str(broken / "ckpt"), "--checkpoint-every", "7"]
    killed = torchrun(train_args(digits_file, broken, *checkpoints, "--die-at-step", "17", "--die-rank", "1"))
    assert killed.returncode != 0
    assert not (broken / "run.json").exists()
    assert json.loads((broken / "ckpt" / "latest.json").read_text())["step"] == 14

    resumed = torchrun(train_args(digits_file, broken, *checkpoints))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads((broken / "run.json").read_text())["resumed_from_step"] == 14
    a, b = torch.load(whole / "model.pt"), torch.load(broken / "model.pt")
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_a_dead_rank_stops_the_others_with_a_clear_error_within_60_s(digits_file, tmp_path):
    """Two ranks started as torchrun would (env rendezvous); rank 1 crashes at step 5 and rank 0
    must exit with the one-line error within 60 s of the crash (the comm timeout is 20 s)."""
    port = free_port()
    procs = []
    for rank in range(2):
        env = {**os.environ, "RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank),
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1"}
        args = train_args(digits_file, tmp_path, "--die-at-step", "5", "--die-rank", "1")
        procs.append(subprocess.Popen([sys.executable, "-m", "sharegrad.cli", *args], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        procs[1].wait(timeout=180)  # start-up (imports, rendezvous) is not what is being timed
        died = time.monotonic()
        _, survivor_err = procs[0].communicate(timeout=60)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
    assert time.monotonic() - died < 60
    assert procs[1].returncode == 3  # the injected crash
    assert procs[0].returncode == 2, survivor_err[-2000:]
    message = [line for line in survivor_err.splitlines() if line.startswith("sharegrad: error:")]
    assert message and "a peer rank died or did not answer" in message[0]


@pytest.mark.parametrize("extra, words", [
    (["--method", "delayed", "--delay", "-1"], "delay t must be >= 0"),
    (["--method", "sparse", "--period", "0"], "period p must be >= 1"),
    (["--method", "sync", "--delay", "3"], "takes no delay"),
    (["--method", "nonsense"], "unknown sync method"),
    (["--batch-size", "5000"], "larger than a rank's shard"),
])
def test_nonsense_is_refused_before_training(digits_file, tmp_path, capsys, extra, words):
    status = cli_main(["train", "--data-root", digits_file, "--device", "cpu", "--out", str(tmp_path / "r.json"),
                       *extra])
    assert status == 2
    assert words in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def test_more_ranks_than_samples_is_refused():
    with pytest.raises(UserError, match="ranks but only"):
        steps_per_epoch(num_samples=3, world_size=4, batch_size=1)
    assert steps_per_epoch(num_samples=100, world_size=4, batch_size=8) == 3
