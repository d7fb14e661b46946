"""Stage: one table saying where every result of a run came from.

Reads the ``provenance`` block that every result JSON carries (any stage that
calls sharegrad.provenance.provenance) and groups the results by commit,
config hash, device, host and package versions, so the report shows at a
glance whether a figure mixes results of two commits or two machines.
"""

from __future__ import annotations

import json
import platform
from collections import Counter
from pathlib import Path

import pandas as pd

from sharegrad.errors import UserError
from sharegrad.provenance import CODE_PATHS, git_commit, package_versions

VERSION_KEYS = ["torch", "torchvision", "numpy", "transformers", "snakemake", "sharegrad"]


def collect(results: Path) -> pd.DataFrame:
    """One row per result JSON under ``results`` that has a provenance block.

    Hidden folders are skipped: a DLG cell's ``.stash/`` holds copies of results
    that are also in its chunk folders."""
    rows, changed = [], {}
    for file in sorted(Path(results).rglob("*.json")):
        if any(part.startswith(".") for part in file.relative_to(results).parts[:-1]):
            continue
        try:
            record = json.loads(file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        prov = record.get("provenance") if isinstance(record, dict) else None
        if not isinstance(prov, dict):
            continue
        versions = prov.get("versions", {})
        for name in prov.get("git_changed_files") or []:
            changed.setdefault(prov.get("git_commit", "unknown"), set()).add(name)
        rows.append({
            "stage": file.relative_to(results).parts[0],
            "git_commit": prov.get("git_commit", "unknown"),
            "config_hash": prov.get("config_hash", "unknown"),
            "device": prov.get("device", "unknown"),
            "host": prov.get("host", "unknown"),
            "slurm": "yes" if prov.get("slurm_job_id") else "no",
            **{k: versions.get(k, "-") for k in VERSION_KEYS},
        })
    table = pd.DataFrame(rows)
    table.attrs["changed_files"] = {commit: sorted(names) for commit, names in changed.items()}
    return table


def render(results: Path, config_name: str, config_hash: str) -> str:
    table = collect(results)
    if table.empty:
        raise UserError(f"no result JSON with a provenance block under {results}")
    grouped = (table.groupby(list(table.columns), dropna=False).size().reset_index(name="results")
               .sort_values(["stage", "results"], ascending=[True, False]))
    commits = Counter(table.git_commit)
    versions = package_versions()
    lines = [
        f"# Provenance of config `{config_name}`",
        "",
        f"- config `{config_name}`, hash of the whole config `{config_hash}`",
        f"- report built at commit `{git_commit()}` on {platform.node()} with "
        + ", ".join(f"{k} {versions.get(k, '-')}" for k in ["python", *VERSION_KEYS]),
        f"- {len(table)} results under `{results}`, from {len(commits)} commit(s): "
        + ", ".join(f"`{c}` ({n})" for c, n in commits.most_common()),
        "- a commit ending in `-dirty` had modified or untracked files under "
        + ", ".join(f"`{p}`" for p in CODE_PATHS) + " when its results were made"
        + "".join(f"; `{c}`: " + ", ".join(f"`{n}`" for n in names)
                  for c, names in sorted(table.attrs.get("changed_files", {}).items()))
        + "; `config_hash` in the table hashes each stage's own settings (model, attack, seed range), so it "
        "differs between stages by design",
        "",
        grouped.to_markdown(index=False),
        "",
    ]
    return "\n".join(lines)


def register_cli(subparsers) -> None:
    p = subparsers.add_parser("provenance", help="table of commits, configs, devices, hosts behind a run's results")
    p.add_argument("--results", required=True, help="results folder of one config (results/<name>)")
    p.add_argument("--config-name", required=True)
    p.add_argument("--config-hash", required=True)
    p.add_argument("--out", required=True)

    def handler(args):
        from sharegrad.report.style import write_text

        results = Path(args.results)
        if not results.is_dir():
            raise UserError(f"{results} is not a folder; run the pipeline first")
        write_text(Path(args.out), render(results, args.config_name, args.config_hash))
        print(f"wrote {args.out}")

    p.set_defaults(handler=handler)
