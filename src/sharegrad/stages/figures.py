"""Stage: render one figure or table from aggregated CSVs."""

from __future__ import annotations

import json
from pathlib import Path

from sharegrad.errors import UserError


def register_cli(subparsers) -> None:
    p = subparsers.add_parser("figure", help="render a figure or table from aggregated CSVs")
    p.add_argument("name", help="figure name (a module in sharegrad/report/)")
    p.add_argument("--csv", nargs="+", required=True, help="aggregated CSV file(s) it reads")
    p.add_argument("--out", required=True)
    p.add_argument("--options", default="{}", help="JSON object of figure options")
    p.add_argument("--html", help="a table (.md output) also rendered as this HTML page (what the report shows)")

    def handler(args):
        from sharegrad.report import FIGURES

        render = FIGURES.get(args.name)
        missing = [c for c in args.csv if not Path(c).exists()]
        if missing:
            raise UserError(f"input CSV {missing[0]} does not exist; run the aggregation first")
        try:
            options = json.loads(args.options)
        except json.JSONDecodeError as exc:
            raise UserError(f"--options is not valid JSON: {exc}") from None
        if args.html and Path(args.out).suffix != ".md":
            raise UserError(f"--html renders a Markdown table; {args.out} is not a .md file")
        render([Path(c) for c in args.csv], Path(args.out), options)
        print(f"wrote {args.out}")
        if args.html:
            from sharegrad.report.html import write_html

            write_html(Path(args.out), Path(args.html))
            print(f"wrote {args.html}")

    p.set_defaults(handler=handler)
