"""Stage: the claims ledger (``sharegrad claims``): claims file + aggregated CSVs -> one table of verdicts."""

from __future__ import annotations

from pathlib import Path

from sharegrad.errors import UserError

SOURCES = ("dlg", "defenses", "text", "dtc", "wan", "wan_projection")


def parse_sources(pairs: list[str], inputs: str | None) -> dict[str, Path]:
    """``--csv NAME=PATH`` pairs and/or an ``--inputs`` YAML of NAME: PATH (paths relative to that file)."""
    sources: dict[str, Path] = {}
    if inputs:
        import yaml

        file = Path(inputs)
        try:
            mapping = yaml.safe_load(file.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise UserError(f"cannot read --inputs {file}: {exc}") from None
        for name, path in (mapping.get("csv") or {}).items():
            sources[name] = ([file.parent / p for p in path] if isinstance(path, list) else file.parent / path)
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not path:
            raise UserError(f"--csv wants NAME=PATH, not {pair!r}")
        sources[name] = Path(path)
    unknown = sorted(set(sources) - set(SOURCES))
    if unknown:
        raise UserError(f"unknown CSV name(s) {unknown}; the claims file measures {list(SOURCES)}")
    missing = [f"{name}={path}" for name, value in sources.items()
               for path in (value if isinstance(value, list) else [value]) if not path.exists()]
    if missing:
        raise UserError(f"CSV(s) not found: {', '.join(missing)}")
    from sharegrad.stages.figures import read_inputs

    # an empty, truncated or unparseable CSV is named, not a pandas traceback (no rows: nothing measured)
    read_inputs([path for value in sources.values() for path in (value if isinstance(value, list) else [value])],
                rows_required=False)
    return sources


def register_cli(subparsers) -> None:
    p = subparsers.add_parser("claims", help="the claims ledger: each claim of the two works, measured and judged",
                              description="Judge every claim of experiments/claims.yaml on aggregated CSVs.")
    p.add_argument("--csv", action="append", default=[], metavar="NAME=PATH",
                   help=f"an aggregated CSV; NAME one of {', '.join(SOURCES)} (repeatable)")
    p.add_argument("--inputs", default=None, help="YAML file with csv: {NAME: PATH} (paths relative to it)")
    p.add_argument("--claims", default=None, help="claims file (default: experiments/claims.yaml)")
    p.add_argument("--title", default="this config")
    p.add_argument("--out", required=True, help="Markdown ledger")
    p.add_argument("--table", default=None, help="CSV of the per-cell measurements (default: next to --out)")

    def handler(args):
        from sharegrad.claims import load_claims
        from sharegrad.claims.ledger import evaluate, markdown
        from sharegrad.report.style import write_text
        from sharegrad.stages.common import write_csv

        sources = parse_sources(args.csv, args.inputs)
        claims = load_claims(Path(args.claims) if args.claims else None)
        summary, cells = evaluate(sources, claims)
        out = Path(args.out)
        write_text(out, markdown(summary, cells, args.title, sources))
        table = Path(args.table) if args.table else out.with_suffix(".csv")
        write_csv(table, summary)
        write_csv(table.with_name(table.stem + "_cells.csv"), cells)
        counts = summary.verdict.value_counts().to_dict()
        print(f"wrote {out}: {len(summary)} claims, " + ", ".join(f"{v} {k}" for k, v in counts.items()))

    p.set_defaults(handler=handler)
