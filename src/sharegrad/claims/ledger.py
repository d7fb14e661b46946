"""The claims ledger: every claim of the claims file, our measurement, and a verdict.

Built only from the claims file and aggregated CSVs (``sources``: CSV name -> path, the
names the claims file uses: dlg, defenses, text, dtc, wan, wan_projection). A claim
whose CSV is absent, or whose cells no row matches, is *not measured by this config*.
Each measured cell also says whether its rows trace to per-attack records kept next
to the CSV, and from which commits they came.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sharegrad.claims import load_claims
from sharegrad.claims.measures import DESCRIBE, MEASURES, select, split_cells
from sharegrad.claims.verdicts import NOT_MEASURED, combine, judge

VERDICT_HELP = (
    "*reproduced*: the rule holds on our measurement; *refuted*: it fails (at the claim's budget or beyond); "
    "*partly*: cells disagree, or only some items succeed; *inconclusive*: the rule cannot decide on this sample "
    "(interval too wide, budget too short, baseline not leaking, or a projection); *not measured*: no row of "
    "this config's CSVs is in the claim's cells. A claim's verdict combines its cells': inconclusive cells do "
    "not count against decided ones, decided cells that disagree give *partly*.")


def _paths(value) -> list[Path]:
    """One CSV or several (kept runs of one kind, read as one table)."""
    return [Path(v) for v in (value if isinstance(value, (list, tuple)) else [value]) if v is not None]


def read_sources(sources: dict[str, Path | list[Path]]) -> dict[str, pd.DataFrame]:
    tables = {}
    for name, value in sources.items():
        parts = [pd.read_csv(path).assign(_csv=str(path)) for path in _paths(value) if path.exists()]
        if parts:
            tables[name] = pd.concat(parts, ignore_index=True)
    return tables


def describe_cell(cell: dict) -> str:
    return ", ".join(f"{k}={cell[k]}" for k in DESCRIBE if k in cell and cell[k] != "-")


def trace(rows: pd.DataFrame, csv_path: Path | None) -> str:
    """Whether the rows' per-run records are kept in the repository, and their commits."""
    from sharegrad.stages.keep_records import record_column, record_path

    parts = []
    column = record_column(rows)
    if column is not None:
        if "_csv" not in rows:
            rows = rows.assign(_csv=str(csv_path) if csv_path else "./x.csv")
        pairs = rows[[column, "_csv"]].dropna().drop_duplicates()
        kept = sum((Path(csv).parent / "records" / record_path(str(a))).exists()
                   or Path(str(a)).with_suffix(".json").exists() for a, csv in zip(pairs[column], pairs._csv))
        parts.append(f"records {kept}/{len(pairs)} kept")
    else:
        parts.append("no per-run record paths in the CSV")
    if "git_commit" in rows:
        commits = rows.git_commit.astype(str).unique()
        dirty = sum(c.endswith("-dirty") for c in commits)
        parts.append(f"{len(commits)} commit(s)" + (f", {dirty} dirty" if dirty else ""))
    return "; ".join(parts)


def evaluate(sources: dict[str, Path], claims: list[dict] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per claim, one row per measured cell)."""
    claims = claims if claims is not None else load_claims()
    tables = read_sources(sources)
    summary, cells = [], []
    for claim in claims:
        source = claim["measure"]["csv"]
        verdicts, texts = [], []
        if source in tables:
            table = tables[source]
            measure = MEASURES.get(claim["measure"]["quantity"])
            rows = select(table, claim["measure"]["cells"])
            for cell, cell_rows in split_cells(source, rows):
                m = measure(cell_rows, table, cell, claim, source)
                verdict, reason = judge(m, claim)
                verdicts.append(verdict)
                texts.append(f"{m.text} ({describe_cell(cell)}): {verdict}")
                cells.append({"claim": claim["id"], "cell": describe_cell(cell), "value": m.value, "low": m.low,
                              "high": m.high, "n": m.n, "budget": m.budget, "measured": m.text, "verdict": verdict,
                              "reason": reason, "trace": trace(cell_rows, None)})
        paper = claim["paper"]
        summary.append({
            "claim": claim["id"], "work": claim["work"], "statement": claim["statement"], "source": claim["source"],
            "provenance": claim["provenance"], "paper_value": paper["value"], "paper": paper["text"],
            "rule": claim["rule"]["says"], "csv": source, "cells_measured": len(verdicts),
            "measured": "; ".join(texts) if texts else "-",
            "verdict": combine(verdicts) if source in tables else NOT_MEASURED,
        })
    return pd.DataFrame(summary), pd.DataFrame(cells)


def _escape(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(summary: pd.DataFrame, cells: pd.DataFrame, title: str, sources: dict[str, Path]) -> str:
    counts = summary.verdict.value_counts()
    tally = ", ".join(f"{counts[v]} {v}" for v in counts.index)
    lines = [f"# Claims ledger: {title}", "",
             f"{len(summary)} claims of the two works ({tally}). Claims: `experiments/claims.yaml`; measurements: "
             + ", ".join(f"`{name}` = {' + '.join(str(p) for p in _paths(value))}"
                         for name, value in sorted(sources.items()) if value) + ".", "",
             VERDICT_HELP, "",
             "| claim | statement | source | paper | verdict | rule | cells |",
             "|---|---|---|---|---|---|---|"]
    for row in summary.itertuples():
        lines.append(f"| `{row.claim}` | {_escape(row.statement)} | {_escape(row.source)} | "
                     f"{_escape(row.paper)} ({row.provenance}) | **{row.verdict}** | {_escape(row.rule)} | "
                     f"{row.cells_measured} |")
    lines += ["", "## Measurements, one row per cell", "",
              "| claim | cell (model, data, budget, settings) | measured | n | verdict | why | records |",
              "|---|---|---|---|---|---|---|"]
    for row in cells.itertuples() if len(cells) else []:
        lines.append(f"| `{row.claim}` | {_escape(row.cell)} | {_escape(row.measured)} | {row.n} | {row.verdict} | "
                     f"{_escape(row.reason)} | {_escape(row.trace)} |")
    if not len(cells):
        lines.append("| - | no claim is measured by this config | | | | | |")
    return "\n".join(lines) + "\n"
