"""A Markdown table file as a standalone HTML page, so the Snakemake report shows it inline.

The report embeds ``text/html`` results in a frame and offers any other text file
only as a download; every table rule therefore writes its ``.md`` (for git and
the README) and this rendering of it (for the report).
"""

from __future__ import annotations

import html
from pathlib import Path

from markdown_it import MarkdownIt

from sharegrad.report.style import write_text

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; font-size: 13px; margin: 1em; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.4em; } h3 { font-size: 1em; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; vertical-align: top; }
th { background: #f2f2f2; text-align: left; }
tr:nth-child(even) td { background: #fafafa; }
td { font-variant-numeric: tabular-nums; }
code { background: #f4f4f4; padding: 0 2px; }
"""


def markdown_to_html(text: str, title: str) -> str:
    """``text`` (CommonMark with pipe tables, as pandas' ``to_markdown`` writes them) as one page."""
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
    return (f"<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n")


def write_html(markdown_file: Path, output: Path) -> None:
    markdown_file = Path(markdown_file)
    write_text(Path(output), markdown_to_html(markdown_file.read_text(), markdown_file.stem))
