"""Stage: ``sharegrad kept-check NAME CELL``: run one kept cell again and compare it with what is kept.

A kept result is only as good as someone else's ability to get it again. This runs the jobs of the
kept records of overlay ``NAME`` (``experiments/NAME.yaml``) whose path contains ``CELL`` through the
overlay's own Snakemake command (its engine, attacks per job and settings), then compares each fresh
record with the kept one, key by key::

    sharegrad kept-check defenses_300_cpu defense~int8/level~0
    make cpu-results-check ONLY=defenses_300_cpu CELL=defense~int8/level~0

Two records are the same when their JSON, with the keys that measure the run rather than the
attack removed, serialises to the same bytes. Those keys are named (``IGNORED``): the timings (wall
and CPU time, seconds per evaluation) and where and from what it ran (commit, changed files, host,
scheduler ids). Every other key, the curves and per-image metrics included, must be equal to the
bit. The check refuses to start where a job's output or its cell's stash of finished attacks
already exists (a stashed attack would be taken back, not rerun); it deletes nothing itself.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

from sharegrad.errors import UserError

# top-level keys that time the run; provenance keys that say where and from what it ran
TIMING_KEYS = ("wall_time_s", "cpu_time_s", "seconds_per_evaluation")
PROVENANCE_KEYS = ("git_commit", "git_changed_files", "host", "slurm_job_id", "cuda_visible_devices")
IGNORED = [*TIMING_KEYS, *(f"provenance.{k}" for k in PROVENANCE_KEYS)]


def comparable(record: dict) -> dict:
    """The record without the IGNORED keys."""
    out = {k: v for k, v in record.items() if k not in TIMING_KEYS}
    if isinstance(out.get("provenance"), dict):
        out["provenance"] = {k: v for k, v in out["provenance"].items() if k not in PROVENANCE_KEYS}
    return out


def canonical(record: dict) -> bytes:
    return json.dumps(comparable(record), sort_keys=True, allow_nan=True).encode()


def differences(kept, fresh, path: str = "") -> list[str]:
    """Where two comparable records differ: ``key: kept -> fresh`` (lists by index; at most one line per key)."""
    if isinstance(kept, dict) and isinstance(fresh, dict):
        out = []
        for key in sorted(set(kept) | set(fresh)):
            where = f"{path}.{key}" if path else str(key)
            if key not in kept or key not in fresh:
                out.append(f"{where}: only in the {'fresh' if key not in kept else 'kept'} record")
            else:
                out += differences(kept[key], fresh[key], where)
        return out
    if isinstance(kept, list) and isinstance(fresh, list):
        if len(kept) != len(fresh):
            return [f"{path}: {len(kept)} entries kept, {len(fresh)} fresh"]
        out = []
        for i, (a, b) in enumerate(zip(kept, fresh)):
            found = differences(a, b, f"{path}[{i}]")
            if found:
                return found[:1] + ([f"{path}: and later entries"] if i + 1 < len(kept) else [])
        return out
    same = kept == fresh or (kept != kept and fresh != fresh)  # NaN == NaN in a record
    return [] if same else [f"{path}: {kept!r} -> {fresh!r}"]


def kept_records(folder: Path, cell: str) -> list[Path]:
    """The overlay's kept records (below ``folder/records/``) whose path contains ``cell``."""
    records = sorted(p for p in (folder / "records").rglob("*.json.gz") if cell in p.relative_to(folder).as_posix())
    if not records:
        raise UserError(f"no kept record of {folder.name} has {cell!r} in its path (they are in {folder / 'records'})")
    return records


def jobs(name: str, folder: Path, records: list[Path]) -> list[Path]:
    """The pipeline outputs (chunk folders) that made ``records``: their paths below ``results/NAME/``."""
    out = []
    for record in records:
        parent = record.parent.relative_to(folder / "records")
        if not parent.name.startswith("chunk~"):
            raise UserError(f"{record}: only records of attack jobs (in chunk~ folders) can be run again one cell "
                            "at a time; a training or WAN result reruns with `make cpu-results ONLY=NAME`")
        job = Path("results") / name / parent
        if job not in out:
            out.append(job)
    return out


def check(name: str, cell: str, cores: int | None = None) -> int:
    from sharegrad.stages.keep_records import read_record
    from sharegrad.stages.kept import BASE_CONFIG, discover

    if not Path(BASE_CONFIG).exists():
        raise UserError(f"{BASE_CONFIG} not found: run from the repository's top folder")
    overlays = discover(Path("."), [name])
    if not overlays:
        raise UserError(f"no overlay experiments/{name}.yaml")
    overlay = overlays[0]
    records = kept_records(overlay.folder, cell)
    targets = jobs(name, overlay.folder, records)
    present = [str(t) for t in targets if t.exists()] + sorted({str(t.parent / ".stash") for t in targets
                                                                if (t.parent / ".stash").exists()})
    if present:
        raise UserError("already there, so the check would not rerun them (a stash's attacks are taken back): "
                        + ", ".join(present) + "; move them away first (nothing is deleted by this check)")
    command = overlay.snakemake_command(cores)
    command = command[:command.index("--") + 1] + [str(t) for t in targets]
    print(f"{name}: {len(records)} kept records of {len(targets)} job(s) with {cell!r} in their path; running\n$ "
          + " ".join(shlex.quote(w) for w in command), flush=True)
    snakemake = Path(sys.executable).with_name("snakemake")
    code = subprocess.run([str(snakemake) if snakemake.exists() else "snakemake", *command[1:]]).returncode
    if code != 0:
        raise UserError(f"the run failed (Snakemake exit {code}; its log is in logs/{name}/)")
    same, missing, differ = 0, [], {}
    for record in records:
        relative = record.relative_to(overlay.folder / "records")
        fresh_path = Path("results") / name / relative.with_suffix("")  # attack~0.json.gz -> attack~0.json
        if not fresh_path.exists():
            missing.append(str(fresh_path))
            continue
        kept, fresh = read_record(record), read_record(fresh_path)
        if canonical(kept) == canonical(fresh):
            same += 1
        else:
            differ[str(relative)] = differences(comparable(kept), comparable(fresh))
    print(f"{name} {cell}: {same} of {len(records)} records byte-identical to the kept ones once "
          f"{', '.join(IGNORED)} are set aside")
    for path in missing:
        print(f"  not made by the run: {path}")
    for path, lines in differ.items():
        print(f"  differs: {path}")
        for line in lines[:10]:
            print(f"    {line}")
    return 0 if same == len(records) else 1


def register_cli(subparsers) -> None:
    p = subparsers.add_parser("kept-check", help="run one kept cell again and compare its records with the kept ones")
    p.add_argument("name", help="the overlay (experiments/NAME.yaml, kept in results/cpu/NAME/)")
    p.add_argument("cell", help="a part of the kept records' paths that picks the cell, e.g. defense~int8/level~0")
    p.add_argument("--cores", type=int, default=None, help="cores for Snakemake (default: the overlay's own)")
    p.set_defaults(handler=lambda args: check(args.name, args.cell, args.cores))
