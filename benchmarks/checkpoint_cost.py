"""What checkpointing costs an attack: LeNet, batch size 1, DLG, sequential engine.

The same attack is run with the default checkpoint frequency (sharegrad.checkpoint's
DEFAULT_EVERY_STEPS / DEFAULT_EVERY_SECONDS) and with checkpoints off, alternately,
``--repeats`` times each, both with a stash (so they differ in the checkpoints only);
prints each run's wall and CPU time, the medians, their ratio and the median of the
run-by-run ratios, and exits non-zero when the latter (``--clock``: wall by default) says
the checkpointed attack is more than ``--limit`` (default 3%) slower.

    python benchmarks/checkpoint_cost.py --iterations 300 --repeats 5 --threads 1
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from sharegrad import checkpoint
from sharegrad.checkpoint import CheckpointPolicy
from sharegrad.data.embedded import write_embedded
from sharegrad.stages.dlg_images import ImageAttackSpec, run_chunk


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=300, help="DLG outer steps (the papers' LeNet runs: 300)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each variant")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--limit", type=float, default=0.03, help="largest slowdown accepted")
    parser.add_argument("--line-search", default="none")
    parser.add_argument("--clock", default="wall", choices=["wall", "cpu"],
                        help="what the verdict reads: wall time, or the process's CPU time (on a machine "
                             "shared with other jobs, whose load moves wall time by more than the limit)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    saving = {"seconds": 0.0, "count": 0}  # what the saves themselves take, whatever the machine's load
    save = checkpoint.AttackCheckpoint.save

    def timed_save(self, step, state):
        start = time.perf_counter()
        save(self, step, state)
        saving["seconds"] += time.perf_counter() - start
        saving["count"] += 1

    checkpoint.AttackCheckpoint.save = timed_save
    work = Path(tempfile.mkdtemp(prefix="sharegrad-checkpoint-bench-"))
    try:
        root = work / "data"
        write_embedded(root)
        spec = ImageAttackSpec(data_root=str(root), model="lenet", batch_size=1, attack="dlg",
                               attack_config={"iterations": args.iterations, "line_search": args.line_search})
        variants = {"default": CheckpointPolicy(), "off": CheckpointPolicy(every_steps=0, every_seconds=0)}
        times: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": []} for name in variants}
        warm = ImageAttackSpec(**{**vars(spec), "attack_config": {**spec.attack_config, "iterations": 2}})
        run_chunk(warm, [0], work / "warm", "cpu", stash=work / "warm-stash", checkpoints=variants["off"])
        for repeat in range(args.repeats):
            for name, policy in (variants.items() if repeat % 2 == 0 else reversed(variants.items())):
                out, stash = work / f"{name}-{repeat}", work / f"stash-{name}-{repeat}"
                saving.update(seconds=0.0, count=0)
                start, cpu_start = time.perf_counter(), time.process_time()
                record = run_chunk(spec, [0], out, "cpu", stash=stash, checkpoints=policy)[0]
                times[name]["wall"].append(time.perf_counter() - start)
                times[name]["cpu"].append(time.process_time() - cpu_start)
                assert record["resumed"] == 0 and not list(stash.glob("*.ckpt"))
                print(f"run {repeat} {name:7s} wall {times[name]['wall'][-1]:.3f} s, cpu {times[name]['cpu'][-1]:.3f} s, "
                      f"{saving['count']} checkpoint(s) written in {saving['seconds']:.3f} s "
                      f"({100 * saving['seconds'] / times[name]['wall'][-1]:.2f}% of the run)", flush=True)
                shutil.rmtree(out), shutil.rmtree(stash)
        policy = variants["default"]
        print(f"LeNet bs1 DLG, {args.iterations} outer steps, {args.repeats} runs each, {args.threads} thread(s); "
              f"default checkpoints: every {policy.every_steps} steps or {policy.every_seconds:g} s")
        paired = {}
        for clock in ("wall", "cpu"):
            on, off = statistics.median(times["default"][clock]), statistics.median(times["off"][clock])
            # run by run, so that a machine whose speed drifts moves both sides of a ratio alike
            paired[clock] = statistics.median(a / b for a, b in zip(times["default"][clock], times["off"][clock]))
            print(f"{clock:4s}: default median {on:.3f} s, off median {off:.3f} s, ratio of medians {on / off:.4f}, "
                  f"median of paired ratios {paired[clock]:.4f} (limit {1 + args.limit:.2f})")
        return 0 if paired[args.clock] <= 1 + args.limit else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
