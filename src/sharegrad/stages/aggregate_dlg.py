"""Stage: gather the per-attack JSONs of image attacks into tidy CSVs.

``dlg.csv``: one row per attacked image (attack-level fields repeated), so a
batch of 8 gives 8 rows. ``dlg_curves.csv``: one row per attack and outer step
(gradient-match loss, mean image MSE).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from sharegrad.errors import UserError
from sharegrad.stages.common import write_csv


def read_records(folders: list[Path], sources: list[Path] | None = None) -> list[dict]:
    """Every attack~N.json of ``folders``; ``sources``, if given, gets each record's file."""
    records = []
    for folder in folders:
        for file in sorted(Path(folder).glob("*.json")):
            with open(file) as handle:
                try:
                    records.append(json.load(handle))
                except json.JSONDecodeError as exc:
                    raise UserError(f"{file} is not valid JSON ({exc}); delete it and rerun its rule") from None
            if sources is not None:
                sources.append(file)
    return records


# A row's cell in dlg.csv: records that share it are averaged as draws of one setting.
CELL_KEYS = ("dataset", "model", "batch_size", "attack", "line_search", "labels", "iterations", "defense", "level")
# Parameters that may differ within a cell without changing what was measured (where files lie).
NOT_SETTINGS = ("lpips_weights", "data_root")


def settings(record: dict) -> dict:
    """What a record measured under, flattened (``attack_config.lr``), file locations left out."""
    params = {k: v for k, v in record["parameters"].items() if k not in NOT_SETTINGS}
    flat = {k: v for k, v in params.items() if k != "attack_config"}
    flat.update({f"attack_config.{k}": v for k, v in params.get("attack_config", {}).items()})
    return flat


def check_one_setting_per_cell(records: list[dict], sources: list[Path]) -> None:
    """Refuse records of one cell (one row of the tables) run with different settings, or one attack twice:
    averaging them would mix two experiments silently."""
    first: dict[tuple, tuple[dict, Path]] = {}
    seen: dict[tuple, Path] = {}
    for record, source in zip(records, sources):
        flat = settings(record)
        params = record["parameters"]
        attack_config = params.get("attack_config", {})
        cell = (params["dataset"], params["model"], params["batch_size"], params["attack"],
                attack_config.get("line_search"), attack_config.get("labels"), attack_config.get("iterations"),
                params.get("defense", "none"), params.get("defense_level", 0))
        if cell in first:
            other, other_source = first[cell]
            differ = sorted(k for k in set(flat) | set(other) if flat.get(k) != other.get(k))
            if differ:
                raise UserError(
                    f"{source} and {other_source} are one cell ({', '.join(f'{k}={v}' for k, v in zip(CELL_KEYS, cell))}) "
                    f"run with different settings ({', '.join(f'{k}: {other.get(k)!r} vs {flat.get(k)!r}' for k in differ)}); "
                    "aggregate them separately, or rerun one with the other's settings")
        else:
            first[cell] = (flat, source)
        key = (cell, record["attack_index"])
        if key in seen:
            raise UserError(f"{source} and {seen[key]} both hold attack {record['attack_index']} of one cell; "
                            "keep one of them")
        seen[key] = source


def flatten(records: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, curves = [], []
    for r in records:
        params = r["parameters"]
        attack_config = params.get("attack_config", {})
        base = {
            "dataset": params["dataset"], "model": params["model"], "batch_size": params["batch_size"],
            "attack": params["attack"], "line_search": attack_config.get("line_search", "none"),
            "labels": attack_config.get("labels", "joint"), "iterations": attack_config.get("iterations"),
            "defense": params.get("defense", "none"), "level": params.get("defense_level", 0),
            "success_mse": params["success_mse"],
            "attack_index": r["attack_index"], "seed": r["seed"], "status": r["status"],
            "diverged_at": r["diverged_at"], "steps": r["steps"], "evaluations": r["evaluations"],
            "wall_time_s": r["wall_time_s"], "seconds_per_evaluation": r["seconds_per_evaluation"],
            # which engine ran the attack (the batched one's seconds per evaluation are a share of
            # its chunk's); absent from records written before the field existed
            "engine": r.get("engine"),
            "final_loss": r["final_loss"], "label_multiset_overlap": r.get("label_multiset_overlap"), "device": r["provenance"]["device"],
            "git_commit": r["provenance"]["git_commit"], "config_hash": r["provenance"]["config_hash"],
            "arrays": r["files"]["arrays"],
        }
        for image in r["images"]:
            rows.append({**base, **image})
        # the budget is part of a curve's cell, as in dlg.csv: two budgets must not share a curve
        key = {k: base[k] for k in ("dataset", "model", "batch_size", "attack", "line_search", "labels",
                                    "iterations", "defense", "level", "attack_index")}
        for step, loss in enumerate(r["loss_curve"]):
            mse = r["mse_curve"][step] if step < len(r["mse_curve"]) else None
            curves.append({**key, "step": step, "gradient_match_loss": loss, "mean_mse": mse})
    return pd.DataFrame(rows), pd.DataFrame(curves)


def register_cli(subparsers) -> None:
    p = subparsers.add_parser("aggregate-dlg", help="gather image-attack JSONs into CSVs")
    p.add_argument("folders", nargs="+", help="folders holding attack~N.json files")
    p.add_argument("--out", required=True, help="per-image CSV")
    p.add_argument("--curves", required=True, help="per-step curves CSV")

    def handler(args):
        sources: list[Path] = []
        records = read_records([Path(f) for f in args.folders], sources)
        if not records:
            raise UserError(f"no attack results found in {len(args.folders)} folder(s)")
        check_one_setting_per_cell(records, sources)
        table, curves = flatten(records)
        write_csv(Path(args.out), table)
        write_csv(Path(args.curves), curves)
        print(f"{len(records)} attacks, {len(table)} images -> {args.out}")

    p.set_defaults(handler=handler)
