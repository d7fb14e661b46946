"""Attacks per hour: the sequential DLG attack against the batched engine.

Each configuration runs in its own child process (so peak memory is its own),
sequential and batched alternating back to back so both see the same machine
load. DLG as published (L-BFGS lr 1, history 100, max_iter 20, line search
none, joint labels), LeNet, batch size 1, on the embedded photographs. The
acceptance run uses the published 300 outer steps (70 minutes on one core
for K=64 and 128, 41 of them the sequential engine); for quicker looks, ``--steps`` takes
fewer: the per-step cost is what the ratio needs, but take at least 10, since
L-BFGS's history (100 pairs) is full only from the 6th step on, and a full
history costs both engines more; success rates need about 100 (the median
LeNet step to success is 71-77).
Prints a table, writes benchmarks/out/attack_throughput[_TAG].csv and .png.
``--variants`` times the batched engine's options side by side (``lockstep``,
the default without a line search, against ``compact``, the same history driven
by one coroutine per attack; ``unfactored`` shows what the factored fc distance
saves, ``compiled`` what torch.compile does, its compilation reported apart).
For attacks per hour, give the sequential engine the same attacks as the
batched one (``--sequential-attacks`` = K): attacks that diverge stop early, so
a different set of attacks costs a different number of evaluations.
On a GPU: ``benchmarks/gpu_check.sh``. Results of the runs below:
``results/cpu/throughput/`` (README in ``results/cpu/``).

    python benchmarks/attack_throughput.py --steps 300 --ks 64,128 --sequential-attacks 64 --sequential-once
    python benchmarks/attack_throughput.py --steps 100 --ks 64,32,128,8,1 --sequential-attacks 64 --sequential-once
    python benchmarks/attack_throughput.py --steps 20 --ks 64 --sequential-attacks 8 --variants lockstep,compact,unfactored
    python benchmarks/attack_throughput.py --model resnet18_sigmoid --steps 2 --ks 1,8 --sequential-attacks 2 --sequential-once
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


# the batched engine's variants: L-BFGS direction, torch.compile, and the factored fc gradient
# (engine/evaluator.py); "unfactored" shows what the factoring saves
# "lockstep" is the engine's default without a line search (engine/lockstep.py); "compact" is the
# same compact-form history driven by one coroutine per attack (what a line search needs)
VARIANTS = {
    "lockstep": {"history": "compact", "compile": False, "factor_head": True, "lockstep": None},
    "compact": {"history": "compact", "compile": False, "factor_head": True, "lockstep": False},
    "two_loop": {"history": "two_loop", "compile": False, "factor_head": True, "lockstep": False},
    "unfactored": {"history": "compact", "compile": False, "factor_head": False, "lockstep": None},
    "compiled": {"history": "compact", "compile": True, "factor_head": True, "lockstep": None},
}


def history_name(args) -> str:
    """The variant's name, as the engine ran it: with a line search there is no lock-step engine."""
    return "compact" if args.history == "lockstep" and args.line_search != "none" else args.history


def child(args) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    from sharegrad.attacks import Target, run_attack
    from sharegrad.attacks.base import victim_gradients
    from sharegrad.data import load_image_set
    from sharegrad.data.embedded import write_embedded
    from sharegrad.engine.dlg import run_dlg_batched
    from sharegrad.metrics.image import mse, to_unit_range
    from sharegrad.models import build_model

    device = torch.device(args.device)
    root = Path(args.data)
    if not (root / "cifar-100-python").exists():
        write_embedded(root)
    images = load_image_set("embedded", "train", root)
    count = args.k if args.engine != "sequential" else args.sequential_attacks
    indices = [i % len(images) for i in range(count)]
    truth, labels = images.tensor(indices)
    truth, labels = truth.to(device), labels.to(device)
    models = [build_model(args.model, num_classes=images.num_classes, seed=i).to(device) for i in range(count)]
    targets = [Target(victim_gradients(m, truth[i:i + 1], labels[i:i + 1], images.num_classes),
                      (1, *truth.shape[1:]), images.num_classes) for i, m in enumerate(models)]
    config = {"iterations": args.steps, "line_search": args.line_search}
    # warm-up outside the clock: torch.func's first call imports and traces for seconds
    if args.engine == "sequential":
        run_attack("dlg", models[0], targets[0], {**config, "iterations": 1}, seed=0)
    elif not VARIANTS.get(args.history, {}).get("compile"):
        run_dlg_batched(models[:2], targets[:2], {**config, "iterations": 1}, list(range(min(2, count))), progress=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    stats = {"compile_s": 0.0}
    wall, cpu = time.perf_counter(), time.process_time()
    if args.engine == "sequential":
        results = [run_attack("dlg", m, t, config, seed=i) for i, (m, t) in enumerate(zip(models, targets))]
    else:
        variant = VARIANTS.get(args.history, VARIANTS["lockstep"])
        # no warm-up for a compiled engine: its compilation is part of every job's cost
        results = run_dlg_batched(models, targets, config, list(range(count)), exact=args.engine == "batched-exact",
                                  progress=False, history=variant["history"], compile=variant["compile"],
                                  factor_head=variant["factor_head"], stats=stats, lockstep=variant["lockstep"],
                                  history_group=args.history_group or None)
    if device.type == "cuda":
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    evaluations = sum(r.evaluations for r in results)
    success = sum(r.status == "finished" and float(mse(to_unit_range(r.reconstruction), truth[i:i + 1])) < 1e-3
                  for i, r in enumerate(results))
    return {
        "model": args.model, "engine": args.engine if args.engine != "batched" else f"batched-{history_name(args)}", "k": args.k if args.engine != "sequential" else 1,
        "attacks": count, "steps": args.steps, "line_search": args.line_search, "evaluations": evaluations,
        "wall_s": wall, "cpu_s": cpu, "wall_s_per_attack": wall / count, "attacks_per_hour": 3600 * count / wall,
        # a compiled engine's compilation is paid once per job; without it, the rate a long job approaches
        "compile_s": stats["compile_s"], "attacks_per_hour_after_compile": 3600 * count / (wall - stats["compile_s"]),
        "ms_per_evaluation": 1000 * wall / evaluations, "cpu_ms_per_evaluation": 1000 * cpu / evaluations,
        "diverged": sum(r.status == "diverged" for r in results), "success": success,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu:{platform.processor() or platform.machine()}",
        "threads": torch.get_num_threads(), "torch": torch.__version__, "history_group": args.history_group,
        "load_1min_before": None,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="lenet")
    p.add_argument("--steps", type=int, default=5, help="outer L-BFGS steps per attack (published: 300)")
    p.add_argument("--line-search", default="none")
    p.add_argument("--ks", default="1,8,32,128", help="attacks per batch for the batched engine")
    p.add_argument("--sequential-attacks", type=int, default=8, help="attacks the sequential engine runs")
    p.add_argument("--exact", action="store_true", help="also the batched engine with torch's per-attack two-loop")
    p.add_argument("--variants", default="lockstep",
                   help=f"batched-engine variants to time, comma-separated: {', '.join(VARIANTS)}")
    p.add_argument("--sequential-once", action="store_true",
                   help="run the sequential engine once, before the first K (not next to every K)")
    p.add_argument("--history-group", type=int, default=0,
                   help="lock-step engine: attacks per call of the history's small operations, 0 = all "
                        "(engine/lockstep.py)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--data", default="data/embedded")
    p.add_argument("--tag", default="", help="suffix of the output files (e.g. the device)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--engine", default=None, help=argparse.SUPPRESS)
    p.add_argument("--k", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--history", default="compact", help=argparse.SUPPRESS)
    args = p.parse_args()
    unknown = [v for v in args.variants.split(",") if v not in VARIANTS]
    if unknown:
        p.error(f"unknown variant {unknown[0]!r}; choose from {', '.join(VARIANTS)}")
    if args.child:
        print(json.dumps(child(args)))
        return

    runs = []
    for number, k in enumerate(int(v) for v in args.ks.split(",")):
        # sequential right before each batched run: both see the same load
        sequential = [("sequential", 1, "compact")] if number == 0 or not args.sequential_once else []
        plan = (sequential + [("batched", k, v) for v in args.variants.split(",")]
                + ([("batched-exact", k, "compact")] if args.exact else []))
        for engine, size, history in plan:
            command = [sys.executable, __file__, "--child", "1", "--engine", engine, "--k", str(size),
                       "--model", args.model, "--steps", str(args.steps), "--line-search", args.line_search,
                       "--sequential-attacks", str(args.sequential_attacks), "--threads", str(args.threads),
                       "--device", args.device, "--data", args.data, "--history", history,
                       "--history-group", str(args.history_group)]
            load = os.getloadavg()[0]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"{engine} K={size} failed:\n{done.stderr[-3000:]}")
            row = json.loads(done.stdout.strip().splitlines()[-1])
            row["load_1min_before"] = load
            row["pair_k"] = k
            runs.append(row)
            print(f"{row['engine']:>13} K={row['k']:<4} {row['attacks']:>4} attacks  {row['wall_s_per_attack']:7.2f} s/attack "
                  f"{row['attacks_per_hour']:9.0f} attacks/h  {row['ms_per_evaluation']:6.2f} ms/eval "
                  f"(cpu {row['cpu_ms_per_evaluation']:6.2f})  {row['evaluations'] / row['attacks']:.0f} evals/attack  success {row['success']}/{row['attacks']}  "
                  f"diverged {row['diverged']}  peak {row['peak_rss_mb']:.0f} MB  load {load:.1f}"
                  + (f"  (compile {row['compile_s']:.0f} s; {row['attacks_per_hour_after_compile']:.0f} attacks/h after)"
                     if row["compile_s"] else ""), flush=True)

    import pandas as pd

    OUT.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame(runs)
    stem = f"attack_throughput{('_' + args.tag) if args.tag else ''}"
    table.to_csv(OUT / f"{stem}.csv", index=False)
    for k, pair in table.groupby("pair_k"):
        own = pair[pair.engine == "sequential"]
        seq = (own if len(own) else table[table.engine == "sequential"]).iloc[0]
        for _, row in pair[pair.engine != "sequential"].iterrows():
            print(f"K={k}: {row.engine} / sequential attacks per hour = {row.attacks_per_hour / seq.attacks_per_hour:.2f} "
                  + (f"({row.attacks_per_hour_after_compile / seq.attacks_per_hour:.2f} after compilation) "
                     if row.compile_s else "")
                  + f"(CPU time per evaluation: {seq.cpu_ms_per_evaluation / row.cpu_ms_per_evaluation:.2f})")
    plot(table, OUT / f"{stem}.png")
    print(f"wrote {OUT / stem}.csv and .png")


def plot(table, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    seq = table[table.engine == "sequential"]
    for engine, rows in table[table.engine != "sequential"].groupby("engine"):
        ax.plot(rows.k, rows.attacks_per_hour, marker="o", label=f"{engine} engine")
    ax.plot(seq.pair_k, seq.attacks_per_hour, marker="s", linestyle="--", label="sequential engine")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("attacks per batch K")
    ax.set_ylabel("attacks per hour")
    row = table.iloc[0]
    ax.set_title(f"DLG {row.model} bs1, {row.steps} outer steps, {row.device}, {row.threads} thread(s)", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
