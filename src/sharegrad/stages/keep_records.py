"""Stage: keep an aggregated CSV together with the per-run JSON records its rows came from.

``sharegrad keep-records --csv results/NAME/dlg.csv --out results/cpu/NAME`` copies the CSV
and, for each row, the JSON record next to its ``arrays`` file into ``OUT/records/`` (the
path below ``results/NAME/``, gzip-compressed: ``attack~0.json.gz``), so a kept table traces
row by row to the attack that made it (the claims ledger checks this). The arrays (.npz, .png)
are not copied: they are large and the pipeline regenerates them from the same settings and
seeds. The gzip stream stores no file name or time, so the same record keeps the same bytes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sharegrad.errors import UserError


def record_path(arrays: str) -> Path:
    """Where a kept record lives below ``OUT/records/``: the arrays path without ``results/NAME/``, as .json.gz."""
    parts = Path(arrays).with_suffix(".json.gz").parts
    return Path(*parts[2:]) if len(parts) > 2 and parts[0] == "results" else Path(*parts)


def write_gzip(source: Path, target: Path) -> None:
    """``source`` gzip-compressed to ``target``, with no name or time in the header (same input, same bytes)."""
    import gzip

    with open(source, "rb") as raw, open(target, "wb") as out:
        with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=out, mtime=0) as packed:
            shutil.copyfileobj(raw, packed)


def read_record(path: Path) -> dict:
    """A kept record (.json.gz) or a pipeline one (.json)."""
    import gzip
    import json

    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as handle:
        return json.load(handle)


def record_column(table) -> str | None:
    """The column naming each row's run: ``arrays`` (image attacks: the record is the .json beside it) or
    ``record`` (text attacks: the record itself); None if the CSV names neither."""
    return next((c for c in ("arrays", "record") if c in table), None)


def keep(csv: Path, out: Path) -> tuple[int, int]:
    import pandas as pd

    table = pd.read_csv(csv)
    column = record_column(table)
    if column is None:
        raise UserError(f"{csv} has no arrays or record column: it does not name per-run records")
    out.mkdir(parents=True, exist_ok=True)
    sources = sorted(set(table[column].dropna()))
    missing = [a for a in sources if not Path(a).with_suffix(".json").exists()]
    if missing:
        raise UserError(f"{len(missing)} record(s) named by {csv} are missing, e.g. {missing[0]}; run from the "
                        "folder the pipeline ran in")
    for arrays in sources:
        target = out / "records" / record_path(arrays)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_gzip(Path(arrays).with_suffix(".json"), target)
    shutil.copyfile(csv, out / Path(csv).name)
    return len(table), len(sources)


def register_cli(subparsers) -> None:
    p = subparsers.add_parser("keep-records", help="copy an aggregated CSV and its rows' JSON records to a kept folder")
    p.add_argument("--csv", required=True, action="append", help="aggregated CSV with an arrays column (repeatable)")
    p.add_argument("--out", required=True, help="kept folder, e.g. results/cpu/NAME")

    def handler(args):
        for csv in args.csv:
            rows, records = keep(Path(csv), Path(args.out))
            print(f"kept {csv}: {rows} rows, {records} records under {args.out}/records")

    p.set_defaults(handler=handler)
