"""The issue's acceptance run: digits, 2 CPU ranks, several seeds, every method, one CSV.

All runs share one gloo group (``run_local``) to skip ~15 s of torchrun and
import start-up per run; each run is the same ``train`` function that
``sharegrad train`` calls. Usage:

    python benchmarks/dtc_digits_acceptance.py --digits data/digits/digits.npz --out results/dtc_acceptance.csv

With ``--methods`` and ``--append`` a subset is run and merged into an existing CSV
(the top-k rows of results/cpu/dtc_acceptance_digits.csv were added to it that way).
Per-epoch curves of the runs go to <out>_curves.csv.

The kept sweep (results/cpu/dtc_acceptance_digits.csv) ran at ``--lr 0.1 --momentum 0.5 --epochs 30``;
its DiLoCo rows were added with

    python benchmarks/dtc_digits_acceptance.py --digits data/digits/digits.npz \
        --out results/cpu/dtc_acceptance_digits.csv --append --lr 0.1 --momentum 0.5 --epochs 30 \
        --methods diloco streaming_diloco
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import pandas as pd

from sharegrad.train.harness import run_specs
from sharegrad.train.launch import run_local
from sharegrad.train.trainer import TrainSpec

METHODS = ([("sync", {})] + [("delayed", {"delay": t}) for t in (1, 2, 4, 8, 20)]
           + [("delayed_nocomp", {"delay": t}) for t in (4, 20)]
           + [("sparse", {"period": p}) for p in (2, 4, 8, 20)]
           + [("sparse_nocomp", {"period": p}) for p in (4, 20)]
           + [("delayed_sparse", {"delay": 4, "period": 4}), ("delayed_sparse_nocomp", {"delay": 4, "period": 4}),
              ("localsgd", {"period": 4, "warmup_steps": 21}), ("powersgd", {"powersgd_rank": 2}),
              ("dgc", {"ratio": 0.01})]
           # every method the WAN table ranks, top-k 1% on DTS among them
           + [("delayed_sparse", {"delay": 20, "period": 20}), ("localsgd", {"period": 20}),
              ("delayed_sparse_topk", {"delay": 20, "period": 20, "ratio": 0.01}),
              ("delayed_sparse_topk", {"delay": 4, "period": 4, "ratio": 0.01}),
              ("delayed_sparse_topk", {"delay": 20, "period": 1, "ratio": 0.01}),
              ("delayed_sparse_topk", {"delay": 0, "period": 20, "ratio": 0.01})]
           # DiLoCo (outer Nesterov lr 0.7, momentum 0.9) and Streaming DiLoCo (4 fragments, one step of overlap)
           + [("diloco", {"period": 4}), ("diloco", {"period": 20}),
              ("streaming_diloco", {"period": 20, "fragments": 4, "overlap": 1, "mix": 0.0}),
              ("streaming_diloco", {"period": 20, "fragments": 4, "overlap": 1, "mix": 0.5})])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--digits", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--batch-size", type=int, default=32, help="per rank")
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--methods", nargs="*", default=None, help="subset of method names")
    parser.add_argument("--delays", type=int, nargs="*", default=None, help="keep only these delays (delayed methods)")
    parser.add_argument("--only", nargs="*", default=None, metavar="METHOD[:KEY=VALUE,...]",
                        help="keep only these entries of METHODS, e.g. delayed_sparse:delay=20,period=20")
    parser.add_argument("--append", action="store_true",
                        help="merge into an existing --out CSV: its rows of other (label, seed) pairs are kept")
    parser.add_argument("--summarise", action="store_true", help="only print and write the table of an existing --out CSV")
    args = parser.parse_args()
    if args.summarise:
        summarise(args.out)
        return
    base = dict(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, momentum=args.momentum,
                weight_decay=5e-4, schedule="cosine")
    specs = [TrainSpec(method=m, seed=s, **base, **opts) for s in args.seeds for m, opts in METHODS
             if (args.methods is None or m in args.methods)
             and (args.delays is None or "delay" not in opts or opts["delay"] in args.delays)
             and (args.only is None or any(selects(entry, m, opts) for entry in args.only))]
    if not specs:
        raise SystemExit("no method selected")
    began = time.perf_counter()
    results = run_local(run_specs, 2, (specs, args.digits, False), timeout_s=7200, comm_timeout_s=120)
    rows, curves = [], []
    for spec, result in zip(specs, results[0]):
        last = result["curves"][-1]
        curves += [{"label": result.get("label"), "seed": spec.seed, **row} for row in result["curves"]]
        rows.append({**{k: v for k, v in dataclasses.asdict(spec).items() if k not in ("die_at_step", "die_rank")},
                     "label": result.get("label"), "final_test_accuracy": result["final"]["test_accuracy"],
                     "final_accuracy_min_rank": result["final"]["test_accuracy_min_rank"],
                     "final_accuracy_max_rank": result["final"]["test_accuracy_max_rank"],
                     "bytes_sent_last_epoch": last["bytes_sent"], "steps_per_s_last_epoch": last["steps_per_s"]})
    new, new_curves = pd.DataFrame(rows), pd.DataFrame(curves)
    curves_path = args.out.removesuffix(".csv") + "_curves.csv"
    if args.append:
        done = set(zip(new.label, new.seed))  # the pairs this call ran, before `new` becomes the merged table

        def keep_others(old):
            return old[[pair not in done for pair in zip(old.label, old.seed)]]

        new = pd.concat([keep_others(pd.read_csv(args.out)), new], ignore_index=True)
        if os.path.exists(curves_path):
            new_curves = pd.concat([keep_others(pd.read_csv(curves_path)), new_curves], ignore_index=True)
    new.to_csv(args.out, index=False)
    new_curves.to_csv(curves_path, index=False)
    print(f"{len(specs)} runs in {time.perf_counter() - began:.0f} s -> {args.out}, {curves_path}")
    summarise(args.out)


def selects(entry: str, method: str, opts: dict) -> bool:
    name, _, settings = entry.partition(":")
    wanted = dict(pair.split("=") for pair in settings.split(",") if pair)
    return name == method and set(wanted) == set(opts) and all(float(wanted[k]) == opts[k] for k in opts)


def summarise(path: str) -> None:
    """Mean and spread over seeds per method, the difference from sync, and whether a
    compensated DTS variant or a top-k method is within 1 point of it; printed and written as <out>.md."""
    runs = pd.read_csv(path)
    table = runs.groupby("label", sort=False).final_test_accuracy.agg(["count", "mean", "std", "min", "max"]) * 100
    table["count"] = (table["count"] / 100).astype(int)
    table["diff vs sync"] = table["mean"] - table.loc["sync", "mean"]
    # compensated DTS variants, the top-k methods and DiLoCo are the ones that claim sync's accuracy
    compensated = ((table.index.str.startswith("delayed_sparse") & ~table.index.str.contains("no-comp"))
                   | table.index.str.startswith("dgc") | table.index.str.contains("diloco"))
    table["within 1 point"] = ["yes" if abs(d) <= 1 else "NO" for d in table["diff vs sync"]]
    table.loc[~compensated, "within 1 point"] = ""
    first = runs.iloc[0]
    settings = (f"digits, 2 ranks, {first.epochs} epochs, batch {first.batch_size} per rank, lr {first.lr} "
                f"({first.schedule}), momentum {first.momentum}, weight decay {first.weight_decay}")
    notes = str(path).removesuffix(".csv") + ".notes.md"
    source = (f"Table: `python benchmarks/dtc_digits_acceptance.py --out {path} --summarise`; the commands that ran "
              f"the rows: `{notes}`.\n\n" if os.path.exists(notes) else "")
    text = (f"Test accuracy (%) over seeds {sorted(runs.seed.unique().tolist())}; {settings}.\n\n" + source
            + table.rename(columns={"count": "seeds"}).round(2).to_markdown() + "\n")
    print(text)
    with open(str(path).removesuffix(".csv") + ".md", "w") as handle:
        handle.write(text)


if __name__ == "__main__":
    main()
