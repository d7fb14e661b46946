"""Stage: render one figure or table from aggregated CSVs."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from sharegrad.errors import UserError

REPORT = Path(__file__).resolve().parent.parent / "report"


def figure_titles() -> dict[str, str]:
    """Figure name -> title, read from the report modules' ``register_figure`` calls without importing
    them (``sharegrad figure --help`` stays as quick as every other command's help)."""
    found = {}
    for path in sorted(REPORT.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "register_figure" and node.args
                    and isinstance(node.args[0], ast.Constant)):
                title = next((k.value.value for k in node.keywords if k.arg == "title"
                              and isinstance(k.value, ast.Constant)), "")
                found[node.args[0].value] = title
    return dict(sorted(found.items()))


def read_inputs(csv_paths: list[Path], rows_required: bool = True) -> None:
    """Each input CSV readable, with a header and (``rows_required``) at least one row; else one line
    naming the file."""
    import pandas as pd

    for path in csv_paths:
        if not path.exists():
            raise UserError(f"input CSV {path} does not exist; run the aggregation first")
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            if handle.tell() > 0:
                handle.seek(-1, 2)
                if handle.read(1) != b"\n":  # every writer ends its last row with a newline
                    raise UserError(f"input CSV {path} ends in the middle of a row (truncated?); "
                                    "run the aggregation again")
        try:
            table = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            raise UserError(f"input CSV {path} is empty (no header); run the aggregation again") from None
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(f"input CSV {path} is not a readable CSV ({problem}); run the aggregation again") from None
        if rows_required and table.empty:
            raise UserError(f"input CSV {path} has a header but no rows; run the aggregation again")


def _missing_column(exc: Exception) -> str | None:
    """The column a renderer asked for and did not find, from pandas' KeyError or AttributeError."""
    if isinstance(exc, KeyError) and exc.args:
        key = exc.args[0]
        key = key.tolist() if hasattr(key, "tolist") else key  # pandas names several as an Index
        return ", ".join(map(str, key)) if isinstance(key, (list, tuple)) else str(key)
    match = re.search(r"'DataFrame' object has no attribute '([^']+)'", str(exc))
    return match.group(1) if match else None


def explain(name: str, csv_paths: list[Path], exc: Exception) -> UserError:
    """A renderer's failure on its input as one line naming the file(s) and the problem."""
    files = ", ".join(str(p) for p in csv_paths)
    column = _missing_column(exc)
    if column is not None:
        return UserError(f"figure {name}: {files} lacks the column {column!r} it reads "
                         "(a CSV of another stage, or truncated?)")
    problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if problem == "No group keys passed!":
        return UserError(f"figure {name}: {files} has none of the columns that define its cells "
                         "(a CSV of another stage?)")
    return UserError(f"figure {name} cannot be drawn from {files}: {problem} "
                     "(a CSV of another stage, truncated, or without the cells this figure reads?)")


def register_cli(subparsers) -> None:
    titles = figure_titles()
    p = subparsers.add_parser("figure", help="render a figure or table from aggregated CSVs",
                              epilog="figures: " + "; ".join(f"{name} ({title})" if title else name
                                                             for name, title in titles.items()))
    p.add_argument("name", help="figure name (a module in sharegrad/report/; listed below)")
    p.add_argument("--csv", nargs="+", required=True, help="aggregated CSV file(s) it reads")
    p.add_argument("--out", required=True, help="the figure (.png, .pdf) or table (.md) to write")
    p.add_argument("--options", default="{}", help="JSON object of figure options")
    p.add_argument("--html", help="a table (.md output) also rendered as this HTML page (what the report shows)")

    def handler(args):
        from sharegrad.report import FIGURES

        render = FIGURES.get(args.name)
        csv_paths = [Path(c) for c in args.csv]
        read_inputs(csv_paths)
        try:
            options = json.loads(args.options)
        except json.JSONDecodeError as exc:
            raise UserError(f"--options is not valid JSON: {exc}") from None
        if not isinstance(options, dict):
            raise UserError(f"--options must be a JSON object, not {args.options!r}")
        spec = getattr(render, "figure_spec", None)
        suffix = Path(args.out).suffix
        if spec is not None and spec.table and suffix != ".md":
            raise UserError(f"{args.name} is a table: --out must be a .md file, not {args.out}")
        if spec is not None and not spec.table and suffix not in (".png", ".pdf", ".svg"):
            raise UserError(f"{args.name} is a figure: --out must be a .png, .pdf or .svg file, not {args.out}")
        if args.html and suffix != ".md":
            raise UserError(f"--html renders a Markdown table; {args.out} is not a .md file")
        try:
            render(csv_paths, Path(args.out), options)
        except UserError:
            raise
        except FileNotFoundError as exc:  # a file the CSV names (a reconstruction's arrays)
            raise UserError(f"figure {args.name}: {', '.join(args.csv)} names {exc.filename}, which does not "
                            "exist (run from the folder the pipeline ran in)") from None
        except (KeyError, AttributeError, IndexError, ValueError, TypeError) as exc:
            # a renderer writes its output last and atomically, so nothing was written
            raise explain(args.name, csv_paths, exc) from None
        print(f"wrote {args.out}")
        if args.html:
            from sharegrad.report.html import write_html

            write_html(Path(args.out), Path(args.html))
            print(f"wrote {args.html}")

    p.set_defaults(handler=handler)
