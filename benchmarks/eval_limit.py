"""How far one gradient-match evaluation is from this machine's limit.

For each model the attacks use, one DLG evaluation (forward, backward with
``create_graph=True``, and the backward of the gradient distance through it)
is counted in FLOPs with ``torch.utils.flop_counter.FlopCounterMode`` and timed,
both through the project's own attack code (``run_attack``): the registered
attack runs with ``max_iter: 1`` and no line search, so each outer step is
exactly one evaluation; the FLOPs of one evaluation are those of a 1-step run
minus those of a 0-step run (which makes only the final, first-order
evaluation), and the time of one is the median interval
between the observer's calls (one per step, the first interval dropped). The
per-step work around the evaluation (L-BFGS's direction, for text the nearest-
token decoding) is in both figures, as it is in a real attack.

The limit is the time those FLOPs take at this CPU's dense float32 matmul rate
(``torch.mm`` of 2048 x 2048), measured right before each model at the same
thread count, so every row is a ratio to a rate measured next to it.

Writes ``results/cpu/eval_limit/eval_limit[_TAG].csv``, ``.json`` (machine,
threads, versions, load) and ``.png``; prints the table.

    python benchmarks/eval_limit.py --threads 2 --tag before
    python benchmarks/eval_limit.py --threads 2 --only resnet18_sigmoid
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "results" / "cpu" / "eval_limit"

# (model, attack, sizes): images take batch sizes, text takes sentence lengths in tokens ([CLS] and [SEP] included)
# the rows the speed work is judged on come first, so a run cut short keeps them
CASES = [
    ("resnet18_sigmoid", "dlg", 1), ("resnet18_sigmoid", "dlg", 8), ("bert_base_random", "text_dlg", 13),
    ("lenet", "dlg", 1), ("lenet", "dlg", 8), ("resnet56_sigmoid", "dlg", 1), ("resnet56_sigmoid", "dlg", 8),
    ("minilm_l6_offline", "text_dlg", 13), ("minilm_l6_offline", "text_dlg", 30), ("bert_base_random", "text_dlg", 30),
]


def matmul_gflops(threads: int, n: int = 2048, repeats: int = 5) -> float:
    """Best of ``repeats`` timed float32 n x n matmuls, in GFLOP/s: the dense rate this CPU reaches now."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def image_problem(model_name: str, batch: int, data: Path):
    import torch

    from sharegrad.attacks import Target
    from sharegrad.attacks.base import victim_gradients
    from sharegrad.data import load_image_set
    from sharegrad.models import build_model

    images = load_image_set("embedded", "train", data)
    truth, labels = images.tensor([i % len(images) for i in range(batch)])
    model = build_model(model_name, num_classes=images.num_classes, seed=0)
    target = Target(victim_gradients(model, truth, labels, images.num_classes), tuple(truth.shape), images.num_classes)
    return model, target, {"line_search": "none"}


def text_problem(model_name: str, tokens: int):
    import torch

    from sharegrad.attacks import Target
    from sharegrad.attacks.text_dlg import victim_text_gradients
    from sharegrad.models import build_model

    model = build_model(model_name, num_classes=30522, seed=0)
    g = torch.Generator().manual_seed(tokens)
    ids = torch.randint(1000, 30000, (1, tokens), generator=g)
    ids[0, 0], ids[0, -1] = 101, 102  # [CLS] ... [SEP]
    types = torch.zeros_like(ids)
    target = Target(victim_text_gradients(model, ids, types), tuple(ids.shape), model.config.vocab_size,
                    token_type_ids=types)
    return model, target, {"line_search": "none"}


def count_flops(attack: str, model, target, config: dict, steps: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    from sharegrad.attacks import run_attack

    counter = FlopCounterMode(display=False)
    with counter:
        run_attack(attack, model, target, {**config, "iterations": steps, "max_iter": 1}, seed=0)
    return float(counter.get_total_flops())


# the ops FlopCounterMode counts (dense matmuls and convolutions): the floor replays each of them alone
DENSE_OPS = ("mm", "addmm", "bmm", "baddbmm", "convolution", "convolution_backward", "_convolution")


def dense_op_seconds(attack: str, model, target, config: dict, steps: int, repeats: int = 3) -> float:
    """Sum over the dense ops of a ``steps``-step run of the best of ``repeats`` timed replays of each op
    alone, with its own arguments: what those kernels take at this thread count with nothing else
    between them (no elementwise work, no autograd, warm caches). What those kernels take by
    themselves; not a strict bound, since each replay adds a timer read and a call (for a few hundred
    small kernels that can exceed the evaluation). Where the kernels are large and this is above 2.5x
    the FLOP limit, no arrangement of the same ops gets the evaluation there."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    from sharegrad.attacks import run_attack

    calls = []

    class Record(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func.overloadpacket.__name__ in DENSE_OPS:
                keep = lambda a: a.detach() if isinstance(a, torch.Tensor) else a  # noqa: E731  (a reference)
                calls.append((func, [keep(a) for a in args], {k: keep(v) for k, v in kwargs.items()}))
            return func(*args, **kwargs)

    with Record():
        run_attack(attack, model, target, {**config, "iterations": steps, "max_iter": 1}, seed=0)
    total = 0.0
    with torch.no_grad():
        for func, args, kwargs in calls:
            best = float("inf")
            for _ in range(repeats):
                start = time.perf_counter()
                func(*args, **kwargs)
                best = min(best, time.perf_counter() - start)
            total += best
    return total


def time_evaluations(attack: str, model, target, config: dict, steps: int) -> tuple[list[float], int]:
    """Seconds between consecutive outer steps (one evaluation each), the first interval dropped."""
    from sharegrad.attacks import run_attack

    stamps: list[float] = []
    result = run_attack(attack, model, target, {**config, "iterations": steps, "max_iter": 1}, seed=0,
                        observer=lambda step, _: stamps.append(time.perf_counter()))
    intervals = [b - a for a, b in zip(stamps[1:], stamps[2:])]
    return intervals, result.steps


def measure(model_name: str, attack: str, size: int, threads: int, data: Path, budget_s: float) -> dict:
    import torch

    torch.set_num_threads(threads)
    if attack == "dlg":
        model, target, config = image_problem(model_name, size, data)
    else:
        model, target, config = text_problem(model_name, size)
    start = time.perf_counter()
    flops = count_flops(attack, model, target, config, 1) - count_flops(attack, model, target, config, 0)
    counted_s = time.perf_counter() - start  # 3 evaluations (two of them first-order only), slowed by the counter
    rate = matmul_gflops(threads)
    rough = counted_s / 2
    steps = int(min(40, max(5, budget_s / max(rough, 1e-3))))
    intervals, done = time_evaluations(attack, model, target, config, steps)
    if not intervals:
        raise RuntimeError(f"{model_name} size {size}: the attack stopped after {done} step(s); nothing to time")
    ms = 1000 * statistics.median(intervals)
    limit_ms = 1000 * flops / (rate * 1e9)
    floor_ms = 1000 * (dense_op_seconds(attack, model, target, config, 1) - dense_op_seconds(attack, model, target, config, 0))
    return {
        "model": model_name, "attack": attack, "size": size, "size_kind": "batch" if attack == "dlg" else "tokens",
        "gflop_per_evaluation": flops / 1e9, "matmul_gflops": rate, "limit_ms": limit_ms,
        "ms_per_evaluation": ms, "ratio_to_limit": ms / limit_ms,
        # the same dense ops, each replayed alone: the kernels' own floor, as a ratio to the FLOP limit
        "dense_ops_alone_ms": floor_ms, "dense_ops_alone_to_limit": floor_ms / limit_ms,
        "ms_min": 1000 * min(intervals), "ms_max": 1000 * max(intervals), "timed_evaluations": len(intervals),
        "parameters": sum(p.numel() for p in model.parameters()), "threads": torch.get_num_threads(),
        "load_1min": os.getloadavg()[0],
    }


def profile(model_name: str, size: int, threads: int, data: Path, steps: int, path: Path) -> None:
    """torch.profiler's operator table of ``steps`` outer steps (one evaluation each) of the attack."""
    import torch
    from torch.profiler import ProfilerActivity, profile as torch_profile

    from sharegrad.attacks import run_attack

    torch.set_num_threads(threads)
    attack = next(a for m, a, _ in CASES if m == model_name)
    model, target, config = (image_problem(model_name, size, data) if attack == "dlg"
                             else text_problem(model_name, size))
    run_attack(attack, model, target, {**config, "iterations": 1, "max_iter": 1}, seed=0)  # warm-up
    with torch_profile(activities=[ProfilerActivity.CPU], record_shapes=False) as prof:
        run_attack(attack, model, target, {**config, "iterations": steps, "max_iter": 1}, seed=0)
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=30)
    path.write_text(f"# {model_name} {size}: {steps} outer steps of {attack} (one evaluation each, then the final "
                    f"first-order one), {threads} thread(s), load {os.getloadavg()}\n{table}\n")
    print(f"wrote {path}")


def plot(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['model']}\n{r['size_kind']} {r['size']}" for r in rows]
    fig, ax = plt.subplots(figsize=(8, 3.8))
    ax.bar(range(len(rows)), [r["ratio_to_limit"] for r in rows], color="tab:blue")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.axhline(2.5, color="tab:red", linewidth=0.8, linestyle="--", label="2.5x the limit")
    ax.set_xticks(range(len(rows)), labels, fontsize=6, rotation=30, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("ms per evaluation / FLOP-limit ms")
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, required=True, help="torch CPU threads (the rules pass --threads)")
    p.add_argument("--tag", default="", help="suffix of the output files (before, after, ...)")
    p.add_argument("--only", default="", help="comma-separated model names or MODEL:SIZE (default: all)")
    p.add_argument("--append", action="store_true",
                   help="keep the rows already in the tag's CSV (other models or sizes), replacing re-measured ones")
    p.add_argument("--budget", type=float, default=12.0, help="seconds of timed steps per row (6 to 40 steps)")
    p.add_argument("--data", default="", help="embedded photographs' folder (default: written to a temporary one)")
    p.add_argument("--profile", default="", metavar="MODEL:SIZE",
                   help="instead of the table: torch.profiler's operator table of a few steps, kept next to it")
    args = p.parse_args()

    import sharegrad  # noqa: F401  (first: it sets torch's OpenMP wait policy, as every sharegrad process does)
    import torch
    import transformers

    from sharegrad.data.embedded import write_embedded

    torch.set_num_threads(args.threads)
    data = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="eval_limit_"))
    if not (data / "cifar-100-python").exists():
        write_embedded(data)
    if args.profile:
        model_name, size = args.profile.split(":")
        OUT.mkdir(parents=True, exist_ok=True)
        name = f"profile_{model_name}_{size}" + (f"_{args.tag}" if args.tag else "") + ".txt"
        profile(model_name, int(size), args.threads, data, 3, OUT / name)
        return
    only = set(filter(None, args.only.split(",")))
    load_before = os.getloadavg()
    rows = []
    header = (f"{'model':<20} {'size':>9} {'GFLOP/eval':>10} {'matmul GFLOP/s':>14} {'limit ms':>9} "
              f"{'ms/eval':>9} {'ratio':>6} {'ops alone':>9} {'ratio':>6}  (min..max ms, n)")
    print(header, flush=True)
    import pandas as pd

    OUT.mkdir(parents=True, exist_ok=True)
    stem = "eval_limit" + (f"_{args.tag}" if args.tag else "")
    kept: list[dict] = []
    if args.append and (OUT / f"{stem}.csv").exists():
        kept = pd.read_csv(OUT / f"{stem}.csv").to_dict("records")
    rows_out = kept
    for model_name, attack, size in CASES:
        if only and model_name not in only and f"{model_name}:{size}" not in only:
            continue
        row = measure(model_name, attack, size, args.threads, data, args.budget)
        rows.append(row)
        print(f"{model_name:<20} {row['size_kind'] + ' ' + str(size):>9} {row['gflop_per_evaluation']:10.3f} "
              f"{row['matmul_gflops']:14.1f} {row['limit_ms']:9.1f} {row['ms_per_evaluation']:9.1f} "
              f"{row['ratio_to_limit']:6.2f} {row['dense_ops_alone_ms']:9.1f} {row['dense_ops_alone_to_limit']:6.2f}  "
              f"({row['ms_min']:.1f}..{row['ms_max']:.1f}, "
              f"{row['timed_evaluations']})  load {row['load_1min']:.2f}", flush=True)
        measured = {(r["model"], r["size"]) for r in rows}
        rows_out = [r for r in kept if (r["model"], r["size"]) not in measured] + rows
        pd.DataFrame(rows_out).to_csv(OUT / f"{stem}.csv", index=False)  # after every row: a cut run keeps its rows
    rows = rows_out
    machine = {
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
        "threads": args.threads, "python": platform.python_version(), "torch": torch.__version__,
        "transformers": transformers.__version__, "platform": platform.platform(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
        "gomp_spincount": os.environ.get("GOMP_SPINCOUNT", "(unset)"),
        "load_avg_before": load_before, "load_avg_after": os.getloadavg(),
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    try:
        machine["cpu_model"] = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                                    if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    (OUT / f"{stem}.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=1) + "\n")
    plot(rows, OUT / f"{stem}.png",
         f"one gradient-match evaluation / FLOP-limit time, {args.threads} thread(s), torch {torch.__version__} "
         f"({args.tag or 'untagged'})")
    print(f"load average before {load_before}, after {machine['load_avg_after']}")
    print(f"wrote {OUT / stem}.csv, .json and .png")


if __name__ == "__main__":
    main()
