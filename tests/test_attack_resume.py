"""Attacks killed mid-attack (SIGKILL at a random moment) and run again resume from their checkpoint
and write the same records as an uninterrupted run, timing fields apart.

Each test: the reference (no stash, so no checkpoints); then the same job with a stash and a
checkpoint after every outer step in a forked process (the interpreter and torch already loaded,
so a test takes seconds), SIGKILLed a random moment after its first checkpoint; then the job again
(here, or through the CLI for one of them)."""

import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from sharegrad.checkpoint import LAYOUT, AttackCheckpoint, CheckpointPolicy

TIMING = ("wall_time_s", "seconds_per_evaluation", "cpu_time_s", "files", "resumed")
EVERY_STEP = CheckpointPolicy(every_steps=1, every_seconds=0)


def kill_mid_attack(job, stash, finished_name: str, timeout: float = 120) -> float:
    """Runs ``job()`` in a forked process, SIGKILLs it a random moment after its first checkpoint."""
    pid = os.fork()
    if pid == 0:  # the child: the job, then out without running the parent's cleanup
        try:
            job()
        finally:
            os._exit(0)
    try:
        deadline = time.monotonic() + timeout
        while not list(stash.glob("*.ckpt")):
            assert os.waitpid(pid, os.WNOHANG) == (0, 0), "the job ended before it wrote a checkpoint"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        delay = random.uniform(0.0, 0.3)
        time.sleep(delay)
        assert os.waitpid(pid, os.WNOHANG) == (0, 0), f"the job finished within {delay:.2f} s of its first checkpoint"
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    assert not (stash / finished_name).exists(), "killed after the attack had finished"
    return delay


def resumed_steps(output: str) -> dict[str, int]:
    """checkpoint file name -> the step it resumed at, from the job's output."""
    steps = {name: int(step) for name, step in re.findall(r"resuming from checkpoint \S*/([^/\s]+)\.ckpt at step (\d+)",
                                                            output)}
    assert steps and min(steps.values()) >= 1, output  # it did resume, from a step it had reached
    return steps


def same_record(reference: dict, resumed: dict, was_resumed: bool) -> None:
    # an attack killed before its first checkpoint starts afresh, and says so
    assert resumed["resumed"] == int(was_resumed) and reference["resumed"] == 0
    for field in TIMING:
        reference.pop(field, None), resumed.pop(field, None)
    assert resumed == reference


def image_job(root, tmp_path, capsys, attack: str, attack_config: dict, indices: str, engine: str,
              through_cli: bool = False):
    from sharegrad.stages.dlg_images import ImageAttackSpec, parse_indices, run_chunk

    spec = ImageAttackSpec(data_root=str(root), attack=attack, attack_config=attack_config)
    chosen = parse_indices(indices)
    reference = run_chunk(spec, chosen, tmp_path / "reference", "cpu", engine)
    stash = tmp_path / "stash"
    kill_mid_attack(lambda: run_chunk(spec, chosen, tmp_path / "killed", "cpu", engine, stash, EVERY_STEP),
                    stash, f"attack~{chosen[-1]}.json")
    capsys.readouterr()
    if through_cli:  # the command a rerun Snakemake job runs
        args = ["dlg", "--data-root", root, "--attack", attack, "--attack-config", json.dumps(attack_config),
                "--indices", indices, "--engine", engine, "--device", "cpu", "--threads", 1, "--stash", stash,
                "--checkpoint-every-steps", 1, "--checkpoint-every-seconds", 0, "--out-dir", tmp_path / "resumed"]
        done = subprocess.run([sys.executable, "-m", "sharegrad.cli", *map(str, args)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        output = done.stdout + done.stderr
    else:
        run_chunk(spec, chosen, tmp_path / "resumed", "cpu", engine, stash, EVERY_STEP)
        output = "".join(capsys.readouterr())
    steps = resumed_steps(output)
    for record in reference:
        name = f"attack~{record['attack_index']}"
        same_record(record, json.loads((tmp_path / "resumed" / f"{name}.json").read_text()), name in steps)
        with np.load(tmp_path / "reference" / f"{name}.npz") as a, np.load(tmp_path / "resumed" / f"{name}.npz") as b:
            assert a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files)
    assert not list(stash.glob("*.ckpt"))  # removed once the results were published


@pytest.mark.parametrize("line_search", ["none", "strong_wolfe"])
def test_sequential_dlg_killed_and_rerun_matches_uninterrupted(tmp_path, embedded_root, capsys, line_search):
    config = {"iterations": 40, "max_iter": 5, "line_search": line_search}
    image_job(embedded_root, tmp_path, capsys, "dlg", config, "0", "sequential", through_cli=line_search == "none")


def test_batched_lockstep_dlg_killed_and_rerun_matches_uninterrupted(tmp_path, embedded_root, capsys):
    config = {"iterations": 30, "max_iter": 5, "line_search": "none"}
    image_job(embedded_root, tmp_path, capsys, "dlg", config, "0:3", "batched")


def test_batched_coroutine_dlg_killed_and_rerun_matches_uninterrupted(tmp_path, embedded_root, capsys):
    config = {"iterations": 20, "max_iter": 5, "line_search": "strong_wolfe"}
    image_job(embedded_root, tmp_path, capsys, "dlg", config, "0:3", "batched")


def test_inverting_gradients_killed_and_rerun_matches_uninterrupted(tmp_path, embedded_root, capsys):
    image_job(embedded_root, tmp_path, capsys, "inverting_gradients", {"iterations": 300}, "0", "sequential")


def test_text_dlg_killed_and_rerun_matches_uninterrupted(tmp_path, capsys):
    from sharegrad.data.text import Sentence
    from sharegrad.stages.dlg_text import TextAttackSpec, run_sentences

    sentences = [Sentence("six", "test", "Beautiful is better than ugly.")]
    spec = TextAttackSpec(attack_config={"max_iter": 4}, budgets=[4, 12])
    reference = run_sentences(spec, sentences, [0], tmp_path / "reference", "cpu")[0]
    stash = tmp_path / "stash"
    kill_mid_attack(lambda: run_sentences(spec, sentences, [0], tmp_path / "killed", "cpu", stash, EVERY_STEP),
                    stash, "sentence~six.json")
    capsys.readouterr()
    run_sentences(spec, sentences, [0], tmp_path / "resumed", "cpu", stash, EVERY_STEP)
    assert list(resumed_steps("".join(capsys.readouterr()))) == ["sentence~six"]
    resumed = json.loads((tmp_path / "resumed" / "sentence~six.json").read_text())
    same_record(json.loads(json.dumps(reference)), resumed, True)
    assert not list(stash.glob("*.ckpt"))


def test_bad_checkpoints_are_ignored_with_a_reason(tmp_path):
    policy = CheckpointPolicy(every_steps=1, every_seconds=0)
    messages = []
    path = tmp_path / "attack~0.ckpt"
    AttackCheckpoint(path, "key-a", policy, "sequential").save(3, {"x": torch.ones(2)})

    def load(key="key-a", engine="sequential"):
        return AttackCheckpoint(path, key, policy, engine, log=messages.append).load()

    assert load()["x"].tolist() == [1.0, 1.0] and "at step 3" in messages[-1]
    assert load(key="key-b") is None and "other settings" in messages[-1]
    assert load(engine="batched") is None and "batched" in messages[-1] and "sequential" in messages[-1]
    payload = torch.load(path, weights_only=True)
    torch.save({**payload, "layout": LAYOUT + 1}, path)
    assert load() is None and f"layout {LAYOUT + 1}" in messages[-1]
    torch.save(payload, path)
    path.write_bytes(path.read_bytes()[: os.path.getsize(path) // 2])  # a write cut short
    assert load() is None and "unreadable" in messages[-1]
    assert all(len(m.splitlines()) == 1 for m in messages)
