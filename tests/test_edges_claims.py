"""The claims ledger at the edges of its rules (sharegrad.claims.verdicts, sharegrad.claims.measures).

Each test sits where a one-line change to a rule or a measure would change a published verdict
without any other test noticing: a run that reached exactly twice the paper's iterations, a median
between the paper's value and twice it, the bandwidth of a temporally sparse method, rates counted
per image rather than per attack, and iterations to success that count a failure as never."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sharegrad.claims import claim
from sharegrad.claims.measures import MEASURES, Measurement
from sharegrad.claims.verdicts import INCONCLUSIVE, REFUTED, REPRODUCED, judge
from sharegrad.metrics.iterations import iterations_to_success

# The claims file's own rule for batch size 1 (paper 270 iterations; median within 2x; refuted only
# when the budget reached 2x): the edges are tested against what the ledger really applies.
BS1 = "dlg_iterations_bs1"


def image_rows(successes: list[int | None], iterations: int, attack_of=lambda i: i) -> pd.DataFrame:
    """One row per image: ``successes[i]`` its first step below the threshold, None if never."""
    return pd.DataFrame([{"dataset": "embedded", "model": "lenet", "batch_size": 1, "attack": "dlg",
                          "line_search": "strong_wolfe", "labels": "joint", "iterations": iterations,
                          "defense": "none", "level": 0.0, "success_mse": 1e-3, "attack_index": attack_of(i),
                          "success": step is not None, "first_success_step": step,
                          "status": "finished", "label_correct": True}
                         for i, step in enumerate(successes)])


def verdict_of(rows: pd.DataFrame, claim_id: str) -> str:
    entry = claim(claim_id)
    measure = MEASURES.get(entry["measure"]["quantity"])
    return judge(measure(rows, rows, {}, entry, entry["measure"]["csv"]), entry)[0]


def test_a_run_at_exactly_twice_the_papers_iterations_refutes_and_one_step_short_does_not():
    entry = claim(BS1)
    twice = entry["rule"]["budget_factor"] * entry["paper"]["value"]
    assert twice == 540
    never = [None] * 6
    assert verdict_of(image_rows(never, twice), BS1) == REFUTED
    assert verdict_of(image_rows(never, twice - 1), BS1) == INCONCLUSIVE


@pytest.mark.parametrize("median, budget, verdict", [
    (300.0, 540, REPRODUCED),  # between the paper's 270 and twice it: within the factor of 2
    (400.0, 300, REPRODUCED),  # a fortiori: reached early, whatever the budget
    (540.0, 540, REPRODUCED),  # exactly twice: still within
    (541.0, 600, REFUTED),  # past twice, with the budget to have seen it
    (541.0, 539, INCONCLUSIVE),  # past twice, but the budget stopped short of twice
])
def test_a_median_between_the_papers_value_and_twice_it(median, budget, verdict):
    measured = Measurement(value=median, n=10, budget=budget, successes=10, text=f"{median:.0f}")
    assert judge(measured, claim(BS1))[0] == verdict


def test_iterations_to_success_counts_a_failure_as_never():
    """3 of 5 back at 10, 20, 30: the median is the third image's 30; the same with only 2 of 4 back is not
    reached (the middle pair holds a never); a success with the attack's status diverged is no success."""
    assert iterations_to_success(image_rows([10, 20, 30, None, None], 50)).median == 30
    found = iterations_to_success(image_rows([10, 20, None, None], 50))
    assert math.isinf(found.median) and found.recovered == 2 and found.images == 4
    assert found.value_text() == "not reached within 50"
    assert verdict_of(image_rows([10, 20, 30, None, None], 540), BS1) == REPRODUCED
    assert verdict_of(image_rows([10, 20, None, None], 540), BS1) == REFUTED


def test_success_rate_is_per_image_not_per_attack():
    """Two attacks of batch 4: 5 of 8 images back (attack 0: all 4, attack 1: one). Per attack it would
    read 1/2 (attacks with any success) or 1/2 (all recovered); per image it is 5/8."""
    rows = image_rows([5, 6, 7, 8, 9, None, None, None], 300, attack_of=lambda i: i // 4)
    rows["batch_size"] = 4
    measured = MEASURES.get("success_rate")(rows, rows, {}, {"measure": {}}, "dlg")
    assert (measured.successes, measured.n) == (5, 8)
    assert measured.value == pytest.approx(5 / 8)
    assert measured.text.startswith("5/8 = 62%")


def wan_rows() -> pd.DataFrame:
    """Synchronous SGD at two links (each its own wire bytes, so a wrong reference shows) and a
    temporally sparse method with period 4 at the second."""
    base = {"model": "digits_cnn", "delay": 0, "ratio": 0.0, "powersgd_rank": 0, "warmup_steps": 0,
            "momentum": 0.9, "world_size": 2, "bandwidth_mbps": 15}
    return pd.DataFrame([
        {**base, "method": "sync", "period": 1, "latency_ms": 0, "wire_bytes_per_step": 1000.0},
        {**base, "method": "sync", "period": 1, "latency_ms": 300, "wire_bytes_per_step": 800.0},
        {**base, "method": "sparse", "period": 4, "latency_ms": 300, "wire_bytes_per_step": 220.0},
    ])


def test_the_bandwidth_of_a_sparse_method_is_its_bytes_times_the_period_over_syncs_at_the_same_link():
    """220 bytes per step x p = 4 over sync's 800 at the same link (300 ms) = 1.1, the rule's upper edge:
    reproduced; sync's 1000 at the other link would give 0.88, the period left out 0.275."""
    table = wan_rows()
    entry = claim("sparse_bandwidth")
    rows = table[table.method == "sparse"]
    cell = {c: rows.iloc[0][c] for c in ("model", "method", "delay", "period", "ratio", "powersgd_rank",
                                           "warmup_steps", "momentum", "latency_ms", "bandwidth_mbps",
                                           "world_size")}
    measured = MEASURES.get("bytes_per_step_vs_sync_over_period")(rows, table, cell, entry, "wan")
    assert measured.value == pytest.approx(1.1)
    assert judge(measured, entry)[0] == REPRODUCED
    table.loc[2, "wire_bytes_per_step"] = 221.0  # just past 1.1
    measured = MEASURES.get("bytes_per_step_vs_sync_over_period")(table[table.method == "sparse"], table, cell,
                                                                   entry, "wan")
    assert measured.value == pytest.approx(1.105) and judge(measured, entry)[0] == REFUTED
