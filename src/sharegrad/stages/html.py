"""Stage: a Markdown table file as an HTML page for the report (``sharegrad html TABLE.md --out TABLE.html``)."""

from __future__ import annotations

from pathlib import Path

from sharegrad.errors import UserError


def register_cli(subparsers) -> None:
    p = subparsers.add_parser("html", help="render a Markdown table file as an HTML page (the report shows it inline)")
    p.add_argument("markdown", help="a .md file written by a table rule")
    p.add_argument("--out", required=True)

    def handler(args):
        from sharegrad.report.html import write_html

        if not Path(args.markdown).exists():
            raise UserError(f"{args.markdown} does not exist")
        write_html(Path(args.markdown), Path(args.out))
        print(f"wrote {args.out}")

    p.set_defaults(handler=handler)
