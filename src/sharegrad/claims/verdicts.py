"""How a measurement becomes a verdict: one function per rule kind of the claims file.

Each rule returns ``(verdict, reason)`` with verdict one of *reproduced*, *refuted*,
*partly*, *inconclusive*; a claim no cell measures is *not measured* (the ledger's
call, not a rule's). Where a rule has an interval it decides only when the whole
interval is on one side: a sample too small to tell gives *inconclusive*, never a
guess. ``budget``: a run shorter than the claim's budget counts only where its
result holds a fortiori (an attack that succeeds early; never a failure).
"""

from __future__ import annotations

import math

from sharegrad.claims.measures import Measurement

REPRODUCED, REFUTED, PARTLY, INCONCLUSIVE, NOT_MEASURED = (
    "reproduced", "refuted", "partly", "inconclusive", "not measured")
VERDICTS = (REPRODUCED, REFUTED, PARTLY, INCONCLUSIVE, NOT_MEASURED)


def _bounds(m: Measurement) -> tuple[float, float]:
    """The interval where there is one, else the value itself on both sides."""
    if math.isfinite(m.low) and math.isfinite(m.high):
        return m.low, m.high
    return m.value, m.value


def _short(m: Measurement, budget: float | None) -> bool:
    return budget is not None and m.budget is not None and m.budget < budget


def at_least(m: Measurement, rule: dict) -> tuple[str, str]:
    threshold = rule["threshold"]
    low, high = _bounds(m)
    if low >= threshold:
        return REPRODUCED, f"lower end {low:.3g} >= {threshold:g}"
    if high < threshold:
        if _short(m, rule.get("budget")):
            return INCONCLUSIVE, f"below {threshold:g} at budget {m.budget:g}, shorter than the claim's {rule['budget']}"
        return REFUTED, f"upper end {high:.3g} < {threshold:g}"
    return INCONCLUSIVE, f"interval [{low:.3g}, {high:.3g}] contains {threshold:g}: sample too small to decide"


def at_most(m: Measurement, rule: dict) -> tuple[str, str]:
    threshold = rule["threshold"]
    base = m.extra.get("baseline")
    if "baseline_at_least" in rule:
        if base is None or base.n == 0:
            return INCONCLUSIVE, "no undefended baseline in this cell"
        if _bounds(base)[0] < rule["baseline_at_least"]:
            return INCONCLUSIVE, (f"the baseline does not leak on this sample ({base.text}): "
                                  "nothing to stop")
    low, high = _bounds(m)
    if high <= threshold:
        if _short(m, rule.get("budget")):
            return INCONCLUSIVE, f"at most {threshold:g} at budget {m.budget:g}, shorter than the claim's {rule['budget']}"
        return REPRODUCED, f"upper end {high:.3g} <= {threshold:g}"
    if low > threshold:
        return REFUTED, f"lower end {low:.3g} > {threshold:g}"
    return INCONCLUSIVE, f"interval [{low:.3g}, {high:.3g}] contains {threshold:g}: sample too small to decide"


def within(m: Measurement, rule: dict) -> tuple[str, str]:
    tolerance = rule["tolerance"]
    if m.n < 2 or not math.isfinite(m.low):
        return INCONCLUSIVE, f"{m.n} paired run(s): no interval"
    if -tolerance <= m.low and m.high <= tolerance:
        return REPRODUCED, f"[{m.low:+.2f}, {m.high:+.2f}] inside +-{tolerance:g}"
    if m.high < -tolerance or m.low > tolerance:
        return REFUTED, f"[{m.low:+.2f}, {m.high:+.2f}] wholly outside +-{tolerance:g}"
    return INCONCLUSIVE, f"[{m.low:+.2f}, {m.high:+.2f}] overlaps the edge of +-{tolerance:g}"


def contains(m: Measurement, paper: float, rule: dict) -> tuple[str, str]:
    tolerance = rule["tolerance"]
    low, high = _bounds(m)
    if high < paper - tolerance or low > paper + tolerance:
        return REFUTED, f"[{low:.3g}, {high:.3g}] misses {paper:g} +- {tolerance:g}"
    if paper - tolerance <= low and high <= paper + tolerance:
        return REPRODUCED, f"[{low:.3g}, {high:.3g}] inside {paper:g} +- {tolerance:g}"
    return INCONCLUSIVE, f"[{low:.3g}, {high:.3g}] overlaps {paper:g} +- {tolerance:g} but is wider"


def between(m: Measurement, rule: dict) -> tuple[str, str]:
    if rule["low"] <= m.value <= rule["high"]:
        return REPRODUCED, f"{m.value:.3g} in [{rule['low']:g}, {rule['high']:g}]"
    return REFUTED, f"{m.value:.3g} outside [{rule['low']:g}, {rule['high']:g}]"


def median_at_most(m: Measurement, paper: float, rule: dict) -> tuple[str, str]:
    limit = rule.get("factor", 1) * paper
    needed = rule.get("budget_factor", 1) * paper
    if math.isfinite(m.value) and m.value <= limit:
        return REPRODUCED, f"median {m.value:.0f} <= {limit:g}"
    if m.budget is not None and m.budget >= needed:
        return REFUTED, f"median {m.text} > {limit:g} with a budget of {m.budget:g}"
    return INCONCLUSIVE, f"median not within {limit:g} at budget {m.budget:g}, shorter than the {needed:g} needed to refute"


def all_succeed(m: Measurement, rule: dict) -> tuple[str, str]:
    if m.n == 0:
        return INCONCLUSIVE, m.text or "nothing measured at a budget <= the claim's"
    if m.successes == m.n:
        return REPRODUCED, f"all {m.n} at budget {m.budget:g}"
    if _short(m, rule.get("budget")):
        return INCONCLUSIVE, f"{m.successes}/{m.n} at budget {m.budget:g}, shorter than the claim's {rule['budget']}"
    if m.successes == 0:
        return REFUTED, f"none of {m.n} at budget {m.budget:g}"
    return PARTLY, f"{m.successes}/{m.n} at budget {m.budget:g}"


def judge(m: Measurement, claim: dict) -> tuple[str, str]:
    """One cell's verdict under its claim's rule."""
    rule, paper = claim["rule"], claim["paper"]["value"]
    if m.n == 0 or (m.value is not None and isinstance(m.value, float) and math.isnan(m.value)
                    and rule["kind"] not in ("all_succeed", "median_at_most")):
        return INCONCLUSIVE, m.text or "no measurement in this cell"
    kind = rule["kind"]
    if kind in ("contains", "median_at_most"):
        verdict, reason = {"contains": contains, "median_at_most": median_at_most}[kind](m, paper, rule)
    else:
        verdict, reason = {"at_least": at_least, "at_most": at_most, "within": within, "between": between,
                           "all_succeed": all_succeed}[kind](m, rule)
    if rule.get("projection") and verdict in (REPRODUCED, REFUTED):
        return INCONCLUSIVE, f"would be {verdict} ({reason}), but it is a projection from assumed inputs"
    if rule.get("assumed") and verdict in (REPRODUCED, REFUTED, PARTLY):
        # measured, but on an input the paper does not state and the outcome turns on
        return INCONCLUSIVE, f"would be {verdict} ({reason}), but it turns on an assumed input: {rule['assumed']}"
    return verdict, reason


def combine(verdicts: list[str]) -> str:
    """A claim's verdict from its cells': inconclusive cells do not count against decided ones;
    cells that disagree give *partly*; no cell at all gives *not measured*."""
    if not verdicts:
        return NOT_MEASURED
    decided = {v for v in verdicts if v != INCONCLUSIVE}
    if not decided:
        return INCONCLUSIVE
    if decided == {REPRODUCED}:
        return REPRODUCED
    if decided == {REFUTED}:
        return REFUTED
    return PARTLY


def direction(m: Measurement, claim: dict, verdict: str) -> str:
    """Which way a refuted measurement misses the claim ("higher than the paper's", ...); "" otherwise.

    Said so that a refutation in the attack's favour (DLG finds more labels than the paper says, a
    defense lets more images through) does not read as the attack failing."""
    if verdict != REFUTED:
        return ""
    rule, kind = claim["rule"], claim["rule"]["kind"]
    if kind == "contains":
        return "higher than the paper's" if m.value > claim["paper"]["value"] else "lower than the paper's"
    if kind == "between":
        return "higher than the paper's" if m.value > rule["high"] else "lower than the paper's"
    if kind == "within":
        return "higher than the reference's" if m.low > rule["tolerance"] else "lower than the reference's"
    if kind == "median_at_most":
        return "slower than the paper's"
    if kind == "all_succeed":
        return "fewer than the paper's"
    return "lower than the claim says" if kind == "at_least" else "higher than the claim says"


def say(verdict: str, way: str = "") -> str:
    """A verdict as every table prints it: the word, and its direction where it has one."""
    return f"{verdict}: {way}" if way else verdict


def substitutes_in(cell: dict, claim: dict) -> list[tuple[str, str, dict | None]]:
    """(column, value, the claims file's entry for it) for each of the cell's values outside the claim's setup."""
    found = []
    for column, allowed in (claim.get("setup") or {}).items():
        value = cell.get(column, "-")
        if value == "-" or value is None:
            continue
        options = allowed if isinstance(allowed, list) else [allowed]
        if str(value) not in {str(o) for o in options}:
            found.append((column, str(value), (claim.get("substitutes") or {}).get(str(value))))
    return found


def on_substitute(verdict: str, reason: str, cell: dict, claim: dict) -> tuple[str, str, str]:
    """(verdict, reason, what was substituted): a cell measured outside the claim's own setup decides the
    claim only where the claims file says that substitute can; elsewhere it is inconclusive, saying what
    it would have been."""
    found = substitutes_in(cell, claim)
    if not found:
        return verdict, reason, ""
    setup = claim["setup"]
    said = "; ".join(f"{value} for {column} {setup[column]}" for column, value, _ in found)
    cannot = [(value, entry) for _, value, entry in found if entry is None or entry["can"] != "refute"]
    if cannot and verdict in (REPRODUCED, REFUTED, PARTLY):
        why = "; ".join(f"{value}: {entry['why'] if entry else 'not listed among the substitutes that can decide it'}"
                        for value, entry in cannot)
        return INCONCLUSIVE, f"would be {verdict} ({reason}), but measured on a substitute that cannot decide it ({why})", said
    return verdict, reason, said
