"""Stage: gather the per-sentence JSONs of text attacks into tidy CSVs.

``text.csv``: one row per sentence run and budget (metrics at that budget).
``text_snapshots.csv``: one row per sentence run and snapshot step (the decoded
tokens), which the slides-style decoding table reads.
``text_curves.csv`` (``--curves``): one row per sentence run and outer step: the
gradient-match loss at the point reached after that many steps (step 0: the
initialisation) and the token accuracy decoded there, which the loss-curve figure reads.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sharegrad.errors import UserError
from sharegrad.stages.aggregate_dlg import read_records
from sharegrad.stages.common import write_csv


def flatten(records: list[dict], sources: list[Path] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``sources``: each record's file, kept in the ``record`` column (what keep-records copies)."""
    rows, snapshots = [], []
    for number, r in enumerate(records):
        params = r["parameters"]
        base = {
            "model": params["model"], "weights": r["weights"]["weights"], "model_parameters": r["weights"]["parameters"],
            "attack": params["attack"], "defense": params["defense"], "level": params["defense_level"],
            "sentence_id": r["sentence"]["id"], "source": r["sentence"]["source"], "n_tokens": r["n_tokens"],
            "true_text": " ".join(r["true_tokens"]), "seed": r["seed"], "status": r["status"],
            "steps": r["steps"], "evaluations": r["evaluations"], "wall_time_s": r["wall_time_s"],
            "seconds_per_evaluation": r["seconds_per_evaluation"], "final_loss": r["final_loss"],
            "first_exact_step": r["first_exact_step"], "device": r["provenance"]["device"],
            "git_commit": r["provenance"]["git_commit"], "config_hash": r["provenance"]["config_hash"],
            **({"record": str(sources[number])} if sources is not None else {}),
        }
        for budget, m in r["at_budget"].items():
            rows.append({**base, "budget": int(budget), "step": m["step"], "token_accuracy": m["token_accuracy"],
                         "token_set_recall": m["token_set_recall"], "rouge1_f": m["rouge1_f"],
                         "rouge2_f": m["rouge2_f"], "rougeL_f": m["rougeL_f"], "exact_match": m["exact_match"],
                         "correct_by_position": "".join("1" if c else "0" for c in m["correct_by_position"]),
                         "recovered_tokens": " ".join(m["tokens"]), "recovered_text": m["text"]})
        key = {k: base[k] for k in ("model", "attack", "defense", "level", "sentence_id", "true_text")}
        for snap in r["snapshots"]:
            snapshots.append({**key, "step": snap["step"], "tokens": " ".join(snap["tokens"])})
    return pd.DataFrame(rows), pd.DataFrame(snapshots)


def curves(records: list[dict]) -> pd.DataFrame:
    """Per step: ``loss_curve[k]`` is the loss after k outer steps (L-BFGS returns the loss at the point it
    starts from; the record appends the loss at the last point), joined by step to ``accuracy_curve``."""
    rows = []
    for r in records:
        params = r["parameters"]
        key = {"model": params["model"], "attack": params["attack"], "defense": params["defense"],
               "level": params["defense_level"], "sentence_id": r["sentence"]["id"],
               # the run's length is part of its curve's cell: a 100-step and a 300-step run must not share a line
               "iterations": max(int(b) for b in r["at_budget"]) if r["at_budget"] else r["steps"]}
        accuracy = {point["step"]: point for point in r.get("accuracy_curve", [])}
        for step, loss in enumerate(r["loss_curve"]):
            point = accuracy.get(step, {})
            rows.append({**key, "step": step, "gradient_match_loss": loss,
                         "token_accuracy": point.get("token_accuracy"), "rougeL_f": point.get("rougeL_f")})
    return pd.DataFrame(rows)


def register_cli(subparsers) -> None:
    p = subparsers.add_parser("aggregate-dlg-text", help="gather text-attack JSONs into CSVs")
    p.add_argument("folders", nargs="+", help="folders holding sentence~ID.json files")
    p.add_argument("--out", required=True, help="per-sentence-and-budget CSV")
    p.add_argument("--snapshots", required=True, help="decoded tokens per snapshot CSV")
    p.add_argument("--curves", help="per-step loss and token accuracy CSV (optional)")

    def handler(args):
        files: list[Path] = []
        records = read_records([Path(f) for f in args.folders], files)
        kept = [(r, f) for r, f in zip(records, files) if r.get("kind") == "dlg_text"]
        if not kept:
            raise UserError(f"no text-attack results found in {len(args.folders)} folder(s)")
        records = [r for r, _ in kept]
        table, snapshots = flatten(records, [f for _, f in kept])
        write_csv(Path(args.out), table)
        write_csv(Path(args.snapshots), snapshots)
        if args.curves:
            write_csv(Path(args.curves), curves(records))
        print(f"{len(records)} sentence runs -> {args.out}")

    p.set_defaults(handler=handler)
