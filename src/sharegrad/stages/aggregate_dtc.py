"""Stage: gather the DTS training runs' JSONs into ``dtc.csv`` (one row per run) and
``dtc_curves.csv`` (one row per run and epoch)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from sharegrad.errors import UserError
from sharegrad.stages.common import write_csv

KEYS = ["dataset", "model", "method", "delay", "period", "ratio", "powersgd_rank", "warmup_steps", "defense",
        "defense_level", "seed", "epochs", "batch_size", "lr", "momentum", "weight_decay", "world_size", "backend"]


def flatten(files: list[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, curves = [], []
    for file in files:
        try:
            record = json.loads(Path(file).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"cannot read run {file} ({exc}); delete it and rerun its rule") from None
        params = record["parameters"]
        base = {k: params.get(k) for k in KEYS}
        base["setup"] = Path(file).parent.as_posix().split("setup~")[-1].split("/")[0]
        epochs = record["curves"]
        rows.append({**base, "label": record["method_label"], "final_test_accuracy": record["final"]["test_accuracy"],
                     "final_accuracy_min_rank": record["final"]["test_accuracy_min_rank"],
                     "final_accuracy_max_rank": record["final"]["test_accuracy_max_rank"],
                     "total_steps": record["total_steps"], "wall_time_s": record["wall_time_s"],
                     "mean_steps_per_s": pd.Series([e["steps_per_s"] for e in epochs]).mean(),
                     "bytes_sent_per_epoch": pd.Series([e["bytes_sent"] for e in epochs]).mean(),
                     "comm_wait_s_per_epoch": pd.Series([e["comm_wait_s"] for e in epochs], dtype=float).mean(),
                     "device": record["provenance"]["device"], "git_commit": record["provenance"]["git_commit"],
                     # the run's own record (the JSON read here), so a kept CSV traces row by row to it
                     "record": Path(file).as_posix()})
        for epoch in epochs:
            curves.append({**base, **epoch})
    return pd.DataFrame(rows), pd.DataFrame(curves)


def register_cli(subparsers) -> None:
    p = subparsers.add_parser("aggregate-dtc", help="DTS training runs (JSON) -> dtc.csv and curves CSV")
    p.add_argument("runs", nargs="+", help="run JSON files")
    p.add_argument("--out", required=True)
    p.add_argument("--curves", required=True)

    def handler(args):
        table, curves = flatten([Path(f) for f in args.runs])
        write_csv(Path(args.out), table)
        write_csv(Path(args.curves), curves)
        print(f"wrote {args.out} ({len(table)} runs) and {args.curves}")

    p.set_defaults(handler=handler)
