"""The defense sweep's table, summary and figures read a hand-written CSV whose right answers are worked out here.

Thresholds as in the configs: leaks when the success rate >= 0.5; stops when it is <= 0.1 and the median
SSIM <= 0.3; else partly. Wilson intervals (95%) written out: 3/4 -> [30%, 95%], 1/4 -> [5%, 70%],
0/4 -> [0%, 49%], 4/4 -> [51%, 100%], 2/4 -> [15%, 85%].
"""

from __future__ import annotations

import numpy as np
import pytest
from report_helpers import capture, lines_by_label, markdown_tables, write_csv

from sharegrad.report import defense_curves, defense_reconstructions, defense_summary, defense_table

THRESHOLDS = {"leaks_min_success": 0.5, "stops_max_success": 0.1, "stops_max_ssim": 0.3}
CELL = {"dataset": "embedded", "model": "lenet", "batch_size": 1, "attack": "dlg", "line_search": "none",
        "labels": "joint", "iterations": 100, "success_mse": 1e-3, "device": "cpu:x86_64", "status": "finished"}


def images(defense, level, successes, ssims, *, mse=None, label_correct=None, **cell):
    """One row per image (attack i attacks image i); the first ``successes`` images recovered."""
    rows = []
    for i, ssim in enumerate(ssims):
        rows.append({**CELL, **cell, "defense": defense, "level": level, "attack_index": i, "image_index": i,
                     "position": 0, "success": i < successes, "ssim": ssim, "lpips": 0.05 if i < successes else 0.5,
                     "mse": (mse or [1e-4 * (i + 1)] * len(ssims))[i], "psnr": 30.0 + i,
                     "label_correct": True if label_correct is None else label_correct[i]})
    return rows


def sweep_rows():
    return (images("none", 0.0, 3, [0.9, 0.8, 0.95, 0.2], mse=[1e-4, 2e-4, 4e-4, 0.2],
                   label_correct=[True, True, True, False])             # 3/4, SSIM 0.85: leaks
            + images("gaussian", 0.001, 1, [0.7, 0.6, 0.5, 0.4])       # 1/4, SSIM 0.55: partly
            + images("gaussian", 0.01, 0, [0.1, 0.2, 0.3, 0.05])       # 0/4, SSIM 0.15: stops
            + images("gaussian", 0.1, 0, [0.1, 0.1, 0.1, 0.1])         # stops
            + images("fp16", 0.0, 4, [0.9, 0.9, 0.9, 0.9])             # 4/4: leaks
            + images("pruning", 0.1, 2, [0.9, 0.9, 0.2, 0.2])          # 2/4 = 0.5: leaks
            + images("pruning", 0.3, 0, [0.2, 0.2, 0.2, 0.2])          # stops
            + images("pruning", 0.5, 0, [0.1, 0.1, 0.1, 0.1])          # stops
            # the same cell at another budget: its baseline does not leak (0/4, SSIM 0.1)
            + images("none", 0.0, 0, [0.1, 0.1, 0.1, 0.1], iterations=300)
            + images("gaussian", 0.01, 0, [0.1, 0.1, 0.1, 0.1], iterations=300))


def render(module, tmp_path, rows, **options):
    out = tmp_path / "out.md"
    module.render([write_csv(tmp_path / "defenses.csv", rows)], out, {"verdict": THRESHOLDS, **options})
    return out.read_text()


def test_defense_table_rates_medians_verdicts_per_budget(tmp_path):
    (table,) = markdown_tables(render(defense_table, tmp_path, sweep_rows()))
    got = {(int(r["iterations"]), r["defense"], r["level"]): r for r in table}
    assert len(got) == len(table) == 10
    expected = {  # budget, defense, level: success rate, median SSIM, verdict
        (100, "none", "0"): ("3/4 = 75% [30%, 95%]", "0.850", "leaks"),
        (100, "gaussian", "0.001"): ("1/4 = 25% [5%, 70%]", "0.550", "partly"),
        (100, "gaussian", "0.01"): ("0/4 = 0% [0%, 49%]", "0.150", "stops"),
        (100, "gaussian", "0.1"): ("0/4 = 0% [0%, 49%]", "0.100", "stops"),
        (100, "fp16", "0"): ("4/4 = 100% [51%, 100%]", "0.900", "leaks"),
        (100, "pruning", "0.1"): ("2/4 = 50% [15%, 85%]", "0.550", "leaks"),
        (100, "pruning", "0.3"): ("0/4 = 0% [0%, 49%]", "0.200", "stops"),
        (100, "pruning", "0.5"): ("0/4 = 0% [0%, 49%]", "0.100", "stops"),
        (300, "none", "0"): ("0/4 = 0% [0%, 49%]", "0.100", "stops"),
        (300, "gaussian", "0.01"): ("0/4 = 0% [0%, 49%]", "0.100", "stops"),
    }
    # 4 attacks per cell: every verdict says it is the outcome on those images
    expected = {k: (rate, ssim, f"{v} (4 attacks only)") for k, (rate, ssim, v) in expected.items()}
    assert {k: (r["success rate [95% CI]"], r["median SSIM"], r["verdict"]) for k, r in got.items()} == expected
    baseline = got[(100, "none", "0")]
    assert baseline["median MSE"] == "3.00e-04"  # (2e-4 + 4e-4) / 2
    assert baseline["label acc."] == "75%"
    assert baseline["images"] == "4"
    assert [r["defense"] for r in table[:5]] == ["none", "gaussian", "gaussian", "gaussian", "fp16"]  # family order


def test_defense_verdict_boundaries():
    assert defense_table.verdict(0.5, 0.9, THRESHOLDS) == "leaks"
    assert defense_table.verdict(0.49, 0.9, THRESHOLDS) == "partly"
    assert defense_table.verdict(0.1, 0.3, THRESHOLDS) == "stops"
    assert defense_table.verdict(0.1, 0.31, THRESHOLDS) == "partly"
    assert defense_table.verdict(0.11, 0.0, THRESHOLDS) == "partly"


def test_defense_summary_thresholds_and_claims_per_cell(tmp_path):
    text = render(defense_summary, tmp_path, sweep_rows())
    sections = text.split("\n## ")
    cell100 = next(s for s in sections if "(100 L-BFGS steps" in s)
    cell300 = next(s for s in sections if "(300 L-BFGS steps" in s)
    assert "Without a defense the attack leaks (3/4 images recovered, median SSIM 0.850)" in cell100
    assert "**gaussian** stops the attack from 0.01 on" in cell100
    assert "**pruning** stops the attack from 0.3 on" in cell100
    assert "**fp16**: leaks, 4 attacks only (4/4 recovered, median SSIM 0.900)" in cell100
    assert "Every verdict below rests on 4 attacks per level (fewer than 5)" in cell100
    claims100, claims300 = markdown_tables(cell100)[0], markdown_tables(cell300)[0]
    # the ledger's words, claim by claim (noise on LeNet cannot decide the noise claims: its gradient scale is
    # not the paper's model's; 4 images per level leave the pruning claims' intervals too wide)
    assert [r["verdict"] for r in claims100] == ["**inconclusive**", "**inconclusive**", "**reproduced**",
                                                 "**inconclusive**", "**inconclusive**"]
    assert claims100[0]["measured"].startswith("0/4 = 0% [0%, 49%]")
    assert "would be" not in claims100[0]["measured"]
    # at 300 steps the baseline fails: nothing to stop, and no fp16 or pruning cell
    assert "Without a defense the attack fails (0/4 images recovered" in cell300
    assert [r["verdict"] for r in claims300] == ["**inconclusive**", "**not measured**", "**not measured**",
                                                 "**not measured**", "**not measured**"]


def test_defense_summary_states_no_verdict_the_ledger_does_not(tmp_path):
    """Each cell's claims table is the ledger's judgement of that cell's rows, word for word."""
    import pandas as pd

    from sharegrad.claims.ledger import evaluate_tables

    rows = (images("none", 0.0, 4, [0.9] * 4, model="resnet18_sigmoid")
            + images("fp16", 0.0, 0, [0.1] * 4, model="resnet18_sigmoid")
            + images("int8", 0.0, 4, [0.9] * 4, model="resnet18_sigmoid")
            + images("pruning", 0.5, 4, [0.9] * 4, model="resnet18_sigmoid")
            + images("pruning", 0.1, 0, [0.1] * 4, model="resnet18_sigmoid"))
    rows = [dict(r, success=r["success"]) for r in rows for _ in range(3)]  # 12 images per level
    for index, row in enumerate(rows):
        row["attack_index"] = row["image_index"] = index
    text = render(defense_summary, tmp_path, rows)
    table = markdown_tables(text)[0]
    summary, _ = evaluate_tables({"defenses": pd.DataFrame(rows)}, [
        __import__("sharegrad.claims", fromlist=["claim"]).claim(c) for c in defense_summary.DEFENSE_CLAIMS])
    assert [r["verdict"] for r in table] == [f"**{v}**" for v in summary.says]
    assert [r["verdict"] for r in table] == ["**not measured**", "**not measured**", "**partly**",
                                             "**refuted: higher than the claim says**",
                                             "**refuted: lower than the claim says**"]


# --- figures -----------------------------------------------------------------------------------------------------

def curves(defense, level, losses, attack_index, **cell):
    base = {k: CELL[k] for k in ("dataset", "model", "batch_size", "attack", "line_search", "labels", "iterations")}
    return [{**base, **cell, "defense": defense, "level": level, "attack_index": attack_index, "step": s,
             "gradient_match_loss": v, "mean_mse": 0.1} for s, v in enumerate(losses)]


def test_defense_curves_medians_per_level_and_the_baseline(tmp_path, monkeypatch):
    rows = (curves("none", 0.0, [4, 2, 1], 0) + curves("none", 0.0, [6, 4, 3], 1)
            + curves("gaussian", 0.01, [10, 9, 8], 0) + curves("gaussian", 0.01, [20, 19, float("inf")], 1)
            + curves("gaussian", 0.1, [30, 30, 30], 0)
            + curves("pruning", 0.3, [5, 5, 5], 0)
            + curves("gaussian", 0.01, [999, 999, 999], 0, iterations=300))  # another budget: not drawn
    captured = capture(monkeypatch, defense_curves)
    defense_curves.render([write_csv(tmp_path / "curves.csv", rows)], tmp_path / "c.png", {})
    noise, pruning = captured.fig.axes
    assert noise.get_title() == "noise: Gaussian" and pruning.get_title() == "pruning"
    assert lines_by_label(noise) == {
        "variance 0.01 (n=2)": [[0, 15.0], [1, 14.0], [2, 8.0]],  # the non-finite loss dropped
        "variance 0.1 (n=1)": [[0, 30.0], [1, 30.0], [2, 30.0]],
        "no defense": [[0, 5.0], [1, 3.0], [2, 2.0]]}
    assert lines_by_label(pruning)["ratio 0.3 (n=1)"] == [[0, 5.0], [1, 5.0], [2, 5.0]]
    assert "100 L-BFGS steps" in captured.fig._suptitle.get_text()


def test_defense_curves_option_picks_the_budget(tmp_path, monkeypatch):
    rows = (curves("none", 0.0, [4, 2], 0) + curves("gaussian", 0.01, [10, 9], 0)
            + curves("none", 0.0, [7, 7], 0, iterations=300) + curves("gaussian", 0.01, [999, 998], 0, iterations=300))
    captured = capture(monkeypatch, defense_curves)
    defense_curves.render([write_csv(tmp_path / "curves.csv", rows)], tmp_path / "c.png", {"iterations": 300})
    (ax,) = captured.fig.axes
    assert lines_by_label(ax) == {"variance 0.01 (n=1)": [[0, 999.0], [1, 998.0]], "no defense": [[0, 7.0], [1, 7.0]]}


def test_defense_reconstructions_tiles(tmp_path, monkeypatch):
    rows = []
    for defense, level, value in [("none", 0.0, 0.2), ("gaussian", 0.01, 0.6)]:
        for i in range(2):
            if defense == "gaussian" and i == 1:
                continue  # not run: the tile says so
            arrays = tmp_path / f"{defense}-{i}.npz"
            np.savez(arrays, truth=np.full((1, 3, 2, 2), 0.1 * (i + 1)), final=np.full((1, 3, 2, 2), value + i / 10))
            rows.append({**images(defense, level, 1, [0.5 + i / 4])[0], "attack_index": i, "image_index": i,
                         "arrays": str(arrays)})
    captured = capture(monkeypatch, defense_reconstructions)
    defense_reconstructions.render([write_csv(tmp_path / "d.csv", rows)], tmp_path / "r.png", {"images": 2})
    axes = np.array(captured.fig.axes).reshape(3, 2)  # truth, none, gaussian x two images
    assert axes[0][1].images[0].get_array()[0, 0, 0] == pytest.approx(0.2)   # truth of image 1
    assert axes[1][1].images[0].get_array()[0, 0, 0] == pytest.approx(0.3)   # none, image 1
    assert axes[2][0].images[0].get_array()[0, 0, 0] == pytest.approx(0.6)   # gaussian, image 0
    assert axes[1][1].get_xlabel() == "SSIM 0.75\npixel-exact"
    assert axes[2][1].texts[0].get_text() == "not run"
    assert axes[2][0].get_ylabel() == "gaussian, variance 0.01"  # laplacian's levels are variances too
