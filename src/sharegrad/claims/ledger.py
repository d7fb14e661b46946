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
from sharegrad.claims.measures import DESCRIBE, MEASURES, Measurement, select, split_cells
from sharegrad.claims.tiers import (LABELS, PIXEL_EXACT, RECOGNISABLE, TIERS, firm_scales, has_tier, recovered,
                                    recovered_scaled, threshold_text)
from sharegrad.claims.verdicts import (INCONCLUSIVE, NOT_MEASURED, REFUTED, REPRODUCED, combine, direction, judge,
                                       on_substitute,
                                       say)

VERDICT_HELP = (
    "*reproduced*: the rule holds on our measurement; *refuted*: it fails (at the claim's budget or beyond); "
    "*partly*: cells disagree, or only some items succeed; *inconclusive*: the rule cannot decide on this sample "
    "(interval too wide, budget too short, baseline not leaking, or a projection); *not measured*: no row of "
    "this config's CSVs is in the claim's cells. A claim's verdict combines its cells': inconclusive cells do "
    "not count against decided ones, decided cells that disagree give *partly*. A refuted verdict says which way "
    "the measurement misses (\"higher than the paper's\": in the attack's favour for an attack's success, "
    "against it for a defense's). A cell measured on a substitute for the claim's own setup (embedded photographs "
    "for CIFAR-100, a randomly initialised BERT for the pretrained one, a small model for the paper's) decides the "
    "claim only where the claims file says that substitute can; elsewhere it is inconclusive and says what it "
    "would have been.")
TIER_HELP = (
    "Image claims are judged under two success tiers (experiments/claims.yaml, `tiers`): *pixel-exact* (MSE "
    "below the run's threshold) and *recognisable* (LPIPS at most the claims file's bound); a diverged attack "
    "recovers nothing under either. Each claim's verdict is under the tier its statement means (column tier); "
    "the other tier's verdict is beside it. Neither paper states a threshold, so a success-rate verdict is judged "
    "again at the multiples of the threshold the claims file gives (`firm_scales`: MSE 5e-4 and 2e-3, LPIPS 0.1 and "
    "0.3): where it holds, its cell says *firm*; where it changes, it is inconclusive (it turns on our threshold).")


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
        # rows of a CSV written before commits were recorded have none (NaN when read beside newer ones)
        commits = [str(c) for c in rows.git_commit.dropna().unique()]
        dirty = sum(c.endswith("-dirty") for c in commits)
        unknown = int(rows.git_commit.isna().sum())
        parts.append(f"{len(commits)} commit(s)" + (f", {dirty} dirty" if dirty else "")
                     + (f", {unknown} row(s) with no commit" if unknown else ""))
    return "; ".join(parts)


IMAGE_SOURCES = ("dlg", "defenses")


def _tiered(table: pd.DataFrame, source: str, tier: str) -> pd.DataFrame | None:
    """The table with ``success`` under ``tier`` (None: these rows cannot say it, e.g. no LPIPS)."""
    if source not in IMAGE_SOURCES or tier == PIXEL_EXACT:
        return table
    if not has_tier(table, tier):
        return None
    return table.assign(success=recovered(table, tier))


def _judge_cells(claim: dict, table: pd.DataFrame, source: str, tier: str | None) -> list[dict]:
    """One entry per cell of the claim: the measurement and its verdict under ``tier``. Cells of the claim's
    ``measure.beside`` (its cells with those columns replaced) come after, marked not counted: shown next to
    the verdict (e.g. the released code's joint attack beside the paper's per-sample one), never part of it."""
    measure = MEASURES.get(claim["measure"]["quantity"])
    out = []
    table_at = _tiered(table, source, tier) if tier else table
    wanted = claim["measure"]["cells"]
    beside = claim["measure"].get("beside")
    groups = [(True, select(table if table_at is None else table_at, wanted))]
    if beside:
        groups.append((False, select(table if table_at is None else table_at, {**wanted, **beside})))
    for counted, rows in groups:
        out += [{**entry, "counted": counted} for entry in _judge_rows(claim, measure, rows, table_at, source, tier)]
    return out


def _judge_rows(claim: dict, measure, rows: pd.DataFrame, table_at, source: str, tier: str | None) -> list[dict]:
    out = []
    for cell, cell_rows in split_cells(source, rows):
        if table_at is None or (tier == RECOGNISABLE and claim["measure"]["quantity"] == "median_steps_to_success"):
            why = ("no per-step LPIPS is recorded, so the step at which an image became recognisable is unknown"
                   if table_at is not None else "these rows have no LPIPS (run without its weights)")
            m = Measurement(value=float("nan"), n=0, text="n/a")
            verdict, reason, said = INCONCLUSIVE, why, ""
        else:
            m = measure(cell_rows, table_at, cell, claim, source)
            verdict, reason = judge(m, claim)
            verdict, reason = _on_the_threshold(verdict, reason, claim, measure, cell_rows, table_at, cell, source, tier)
            verdict, reason, said = on_substitute(verdict, reason, cell, claim)
        out.append({"cell": cell, "rows": cell_rows, "m": m, "verdict": verdict, "reason": reason,
                    "direction": direction(m, claim, verdict), "substitute": said})
    return out


def _on_the_threshold(verdict: str, reason: str, claim: dict, measure, rows: pd.DataFrame, table: pd.DataFrame,
                      cell: dict, source: str, tier: str | None) -> tuple[str, str]:
    """A success-rate verdict judged again at the tier's ``firm_scales`` (multiples of its threshold): neither
    paper states a threshold, so a verdict that changes there turns on ours and is inconclusive; one that
    holds says so."""
    if (tier not in TIERS or source not in IMAGE_SOURCES or verdict not in (REPRODUCED, REFUTED)
            or claim["measure"]["quantity"] != "success_rate" or not firm_scales(tier)):
        return verdict, reason
    seen = []
    for scale in firm_scales(tier):
        m = measure(rows.assign(success=recovered_scaled(rows, tier, scale)),
                    table.assign(success=recovered_scaled(table, tier, scale)), cell, claim, source)
        seen.append((threshold_text(rows, tier, scale), judge(m, claim)[0], m.text))
    if all(v == verdict for _, v, _ in seen):
        return verdict, f"{reason}; firm: {verdict} from {seen[0][0]} to {seen[-1][0]}"
    at = "; ".join(f"{v} at {where} ({text})" for where, v, text in seen)
    return INCONCLUSIVE, (f"would be {verdict} ({reason}) at {threshold_text(rows, tier)}, but it turns on the "
                          f"threshold, which the paper does not state: {at}")


def _common_direction(entries: list[dict]) -> str:
    ways = {e["direction"] for e in entries if e["verdict"] == REFUTED and e["counted"]}
    return ways.pop() if len(ways) == 1 else ""


def evaluate_tables(tables: dict[str, pd.DataFrame], claims: list[dict] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per claim, one row per measured cell) from aggregated tables (CSV name -> rows).

    An image claim names the success tier its statement means (``tier``): its verdict is the one under
    that tier; the other tier's verdict is shown beside it (``other_tier``)."""
    claims = claims if claims is not None else load_claims()
    summary, cells = [], []
    for claim in claims:
        source = claim["measure"]["csv"]
        tier = claim.get("tier")
        other = next((t for t in TIERS if t != tier), None) if tier else None
        main, beside = [], []
        if source in tables:
            main = _judge_cells(claim, tables[source], source, tier)
            beside = _judge_cells(claim, tables[source], source, other) if other else []
        by_cell = {describe_cell(e["cell"]): e for e in beside}
        counted = [e for e in main if e["counted"]]
        for entry in main:
            m, described = entry["m"], describe_cell(entry["cell"])
            twin = by_cell.get(described)
            cells.append({"claim": claim["id"], "cell": described, "tier": tier or "", "value": m.value, "low": m.low,
                          "high": m.high, "n": m.n, "budget": m.budget, "measured": m.text,
                          "verdict": entry["verdict"], "direction": entry["direction"], "counted": entry["counted"],
                          "says": say(entry["verdict"], entry["direction"]) + ("" if entry["counted"] else
                                                                               " (beside: not counted)"),
                          "reason": entry["reason"],
                          "substitute": entry["substitute"],
                          "other_tier": other or "", "other_measured": twin["m"].text if twin else "",
                          "other_verdict": say(twin["verdict"], twin["direction"]) if twin else "",
                          "trace": trace(entry["rows"], None)})
        paper = claim["paper"]
        verdict = combine([e["verdict"] for e in counted]) if source in tables else NOT_MEASURED
        beside_counted = [e for e in beside if e["counted"]]
        other_verdict = (combine([e["verdict"] for e in beside_counted]) if source in tables else NOT_MEASURED
                         ) if other else ""
        summary.append({
            "claim": claim["id"], "work": claim["work"], "statement": claim["statement"], "source": claim["source"],
            "provenance": claim["provenance"], "paper_value": paper["value"], "paper": paper["text"],
            "tier": tier or "", "rule": claim["rule"]["says"], "csv": source, "cells_measured": len(counted),
            "value": "; ".join(f"{e['m'].text} (n={e['m'].n})" for e in counted) if counted else "-",
            "n": sum(e["m"].n for e in counted),
            "measured": "; ".join(f"{e['m'].text} ({describe_cell(e['cell'])}): {say(e['verdict'], e['direction'])}"
                                  for e in counted) if counted else "-",
            "verdict": verdict, "direction": _common_direction(counted) if verdict == REFUTED else "",
            "says": say(verdict, _common_direction(counted) if verdict == REFUTED else ""),
            "other_tier": other or "",
            "other_verdict": say(other_verdict, _common_direction(beside_counted) if other_verdict == REFUTED else "")
            if other else "",
        })
    return pd.DataFrame(summary), pd.DataFrame(cells)


def evaluate(sources: dict[str, Path], claims: list[dict] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per claim, one row per measured cell) from the CSVs ``sources`` names."""
    return evaluate_tables(read_sources(sources), claims)


def _escape(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(summary: pd.DataFrame, cells: pd.DataFrame, title: str, sources: dict[str, Path]) -> str:
    counts = summary.verdict.value_counts()
    tally = ", ".join(f"{counts[v]} {v}" for v in counts.index)
    lines = [f"# Claims ledger: {title}", "",
             f"{len(summary)} claims of the two works ({tally}). Claims: `experiments/claims.yaml`; measurements: "
             + ", ".join(f"`{name}` = {' + '.join(str(p) for p in _paths(value))}"
                         for name, value in sorted(sources.items()) if value) + ".", "",
             VERDICT_HELP, "", TIER_HELP, "",
             "| claim | statement | source | paper | tier | measured (n) | verdict | under the other tier | rule | cells |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in summary.itertuples():
        tier = LABELS.get(row.tier, "-")
        other = f"{LABELS[row.other_tier]}: {row.other_verdict}" if row.other_tier else "-"
        lines.append(f"| `{row.claim}` | {_escape(row.statement)} | {_escape(row.source)} | "
                     f"{_escape(row.paper)} ({row.provenance}) | {tier} | {_escape(row.value)} | **{_escape(row.says)}** | "
                     f"{_escape(other)} | {_escape(row.rule)} | {row.cells_measured} |")
    lines += ["", "## Measurements, one row per cell", "",
              "| claim | cell (model, data, budget, settings) | measured | n | verdict | why | other tier | records |",
              "|---|---|---|---|---|---|---|---|"]
    for row in cells.itertuples() if len(cells) else []:
        why = row.reason + (f"; substitute: {row.substitute}" if row.substitute else "")
        other = f"{LABELS[row.other_tier]}: {row.other_measured} -> {row.other_verdict}" if row.other_tier else "-"
        lines.append(f"| `{row.claim}` | {_escape(row.cell)} | {_escape(row.measured)} | {row.n} | {_escape(row.says)} | "
                     f"{_escape(why)} | {_escape(other)} | {_escape(row.trace)} |")
    if not len(cells):
        lines.append("| - | no claim is measured by this config | | | | | | |")
    return "\n".join(lines) + "\n"
