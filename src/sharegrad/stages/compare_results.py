"""Stage: check that two runs of the same config gave the same results.

Used to prove a SLURM run equals the local run: every CSV under one results
folder is compared with the CSV of the same relative path under the other,
column by column, numbers to a float tolerance. Columns that measure the
machine rather than the experiment (wall times, throughput, host, device,
commit, the attack engine the profile chose) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import numpy as np
import pandas as pd

from sharegrad.errors import UserError

MACHINE_COLUMNS = ["*wall*", "*time*", "*seconds*", "*_s", "*_ms", "*per_s*", "*per_second*", "*throughput*",
                   "*wait*", "*elapsed*", "host*", "*hostname*", "device*", "git_commit", "*torch_threads*",
                   # measured speed and what is derived from it (wan.csv): the machine's, not the seed's
                   "load_*", "*scalability*", "*measured*", "cores_available",
                   # which attack engine ran a job: the profile's attacks per job decide it
                   "engine"]


@dataclass
class Comparison:
    name: str
    rows: int
    compared: list[str]
    ignored: list[str]
    max_abs_diff: float
    problems: list[str]


def machine_column(name: str, extra: list[str] = ()) -> bool:
    return any(fnmatchcase(name.lower(), p) for p in [*MACHINE_COLUMNS, *extra])


def compare_tables(name: str, reference: pd.DataFrame, other: pd.DataFrame, rtol: float, atol: float,
                   ignore: list[str] = ()) -> Comparison:
    problems = []
    if set(reference.columns) != set(other.columns):
        missing = sorted(set(reference.columns) ^ set(other.columns))
        problems.append(f"columns differ: {missing}")
    columns = [c for c in reference.columns if c in other.columns]
    compared = [c for c in columns if not machine_column(c, ignore)]
    ignored = [c for c in columns if c not in compared]
    if len(reference) != len(other):
        problems.append(f"{len(reference)} rows against {len(other)}")
        return Comparison(name, len(reference), compared, ignored, float("nan"), problems)
    # Row order may follow file-system order; sort on the exact (non-float) columns.
    keys = [c for c in compared if not pd.api.types.is_float_dtype(reference[c])]
    if keys:
        reference = reference.sort_values(keys, kind="stable").reset_index(drop=True)
        other = other.sort_values(keys, kind="stable").reset_index(drop=True)
    worst = 0.0
    for column in compared:
        a, b = reference[column], other[column]
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
            a, b = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
            close = np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
            finite = np.isfinite(a) & np.isfinite(b)
            if finite.any():
                worst = max(worst, float(np.max(np.abs(a[finite] - b[finite]))))
        else:
            close = (a.astype(str) == b.astype(str)).to_numpy()
        if not close.all():
            row = int(np.argmin(close))
            problems.append(f"column {column!r}: {int((~close).sum())} rows differ, "
                            f"first at row {row}: {reference[column].iloc[row]!r} vs {other[column].iloc[row]!r}")
    return Comparison(name, len(reference), compared, ignored, worst, problems)


def compare_folders(reference: Path, other: Path, rtol: float = 1e-5, atol: float = 1e-8,
                    ignore: list[str] = (), subset: bool = False) -> list[Comparison]:
    """``subset``: OTHER ran only some targets; compare the CSVs it has (it must have one)."""
    names = {p.relative_to(reference).as_posix() for p in Path(reference).rglob("*.csv")}
    others = {p.relative_to(other).as_posix() for p in Path(other).rglob("*.csv")}
    if not names:
        raise UserError(f"no CSV files under {reference}")
    if subset and not others:
        raise UserError(f"no CSV files under {other}")
    results = []
    for name in sorted(others if subset else names | others):
        if name not in names or name not in others:
            where = other if name not in others else reference
            results.append(Comparison(name, 0, [], [], float("nan"), [f"missing under {where}"]))
            continue
        results.append(compare_tables(name, pd.read_csv(Path(reference) / name), pd.read_csv(Path(other) / name),
                                      rtol, atol, ignore))
    return results


def register_cli(subparsers) -> None:
    p = subparsers.add_parser("compare-results", help="check two results folders hold the same metrics",
                              description="Compare every CSV under REFERENCE with the same file under OTHER.")
    p.add_argument("reference", help="results folder of the reference run (e.g. the local run)")
    p.add_argument("other", help="results folder of the run to check (e.g. the SLURM run)")
    p.add_argument("--rtol", type=float, default=1e-5)
    p.add_argument("--atol", type=float, default=1e-8)
    p.add_argument("--ignore", action="append", default=[], help="extra column pattern to leave out (fnmatch)")
    p.add_argument("--subset", action="store_true",
                   help="OTHER ran only some targets: compare the CSVs it has, not every CSV of REFERENCE")

    def handler(args):
        for folder in (args.reference, args.other):
            if not Path(folder).is_dir():
                raise UserError(f"{folder} is not a folder")
        results = compare_folders(Path(args.reference), Path(args.other), args.rtol, args.atol, args.ignore,
                                  args.subset)
        for r in results:
            verdict = "same" if not r.problems else "DIFFERENT"
            print(f"{r.name}: {verdict}: {r.rows} rows, {len(r.compared)} columns compared "
                  f"(max |diff| {r.max_abs_diff:.3g}), {len(r.ignored)} machine columns left out: {', '.join(r.ignored)}")
            for problem in r.problems:
                print(f"  {problem}")
        bad = [r.name for r in results if r.problems]
        if bad:
            raise UserError(f"{len(bad)} of {len(results)} CSV files differ between {args.reference} and {args.other}: "
                            + ", ".join(bad))
        print(f"all {len(results)} CSV files agree (rtol {args.rtol:g}, atol {args.atol:g})")

    p.set_defaults(handler=handler)
