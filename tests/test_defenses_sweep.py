"""The defense sweep's config helpers and its figures and tables, on a small synthetic result set."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sharegrad.pipeline import defenses as pipeline_defenses, dlg as pipeline_dlg
from sharegrad.report import FIGURES
from sharegrad.report.defense_summary import claims, stops_from
from sharegrad.report.defense_table import summarise, verdict

ROOT = Path(__file__).resolve().parents[1]
THRESHOLDS = {"leaks_min_success": 0.5, "stops_max_success": 0.1, "stops_max_ssim": 0.3}


def config(name):
    return yaml.safe_load((ROOT / "experiments" / f"{name}.yaml").read_text())


def test_smoke_sweep_has_a_baseline_and_every_family_with_its_own_budget():
    smoke = config("smoke")
    cells = pipeline_defenses.cells(smoke)
    assert {"none", "gaussian", "laplacian", "fp16", "int8", "pruning"} <= {c["defense"] for c in cells}
    assert any(c["defense"] == "none" and c["level"] == 0 for c in cells)
    assert all(c["attacks"] == smoke["defenses"]["attacks_per_cell"] for c in cells)
    dirs = pipeline_defenses.chunk_dirs(smoke)
    assert len(dirs) == sum(len(pipeline_dlg.dlg_chunks(smoke, c)) for c in cells)
    assert all(d.startswith("results/smoke/dlg/") and "/iterations~100/" in d for d in dirs)
    cell = dirs[0].split("/dlg/", 1)[1].rsplit("/chunk~", 1)[0]
    assert '"iterations": 100' in pipeline_dlg.dlg_cli_args(smoke, cell, "0-2")


def test_paper_sweep_shares_dlg_folders_and_covers_the_papers_levels():
    paper = config("paper")
    cells = pipeline_defenses.cells(paper)
    assert {c["model"] for c in cells} >= {"lenet"} and {c["batch_size"] for c in cells} == {1, 8}
    levels = {c["defense"]: set() for c in cells}
    for c in cells:
        levels[c["defense"]].add(c["level"])
    assert levels["gaussian"] == levels["laplacian"] == {1e-4, 1e-3, 1e-2, 1e-1}
    assert levels["pruning"] == {0.01, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7}
    assert all(c["attacks"] >= 50 for c in cells)
    # The baseline of the plain DLG grid and of the sweep is one job when the budgets agree.
    plain = {pipeline_dlg.cell_path(c) for c in pipeline_dlg.dlg_cells(paper)}
    swept = {pipeline_dlg.cell_path(c) for c in cells}
    lenet_baseline = [p for p in swept if "model~lenet/batch_size~1/" in p and "defense~none" in p
                      and "line_search~strong_wolfe/labels~joint/" in p]
    assert lenet_baseline and (set(lenet_baseline) & plain)


def test_verdict_thresholds():
    assert verdict(0.6, 0.9, THRESHOLDS) == "leaks"
    assert verdict(0.0, 0.1, THRESHOLDS) == "stops"
    assert verdict(0.0, 0.6, THRESHOLDS) == "partly"  # no exact copy, but a recognisable image
    assert verdict(0.3, 0.1, THRESHOLDS) == "partly"


def synthetic_results(tmp_path, baseline_success=True):
    """Per-image rows and curves as aggregate-dlg writes them, with arrays files for the figures."""
    rng = np.random.default_rng(0)
    cells = [("none", 0.0, baseline_success), ("fp16", 0.0, True), ("gaussian", 1e-3, True),
             ("gaussian", 1e-2, False), ("gaussian", 1e-1, False), ("pruning", 0.1, True), ("pruning", 0.3, False)]
    rows, curves = [], []
    for defense, level, leaks in cells:
        for index in range(3):
            truth = rng.random((1, 3, 32, 32)).astype(np.float32)
            final = truth if leaks else rng.random((1, 3, 32, 32)).astype(np.float32)
            arrays = tmp_path / f"{defense}-{level}-{index}.npz"
            np.savez(arrays, truth=truth, final=final, snapshots=final[None], snapshot_steps=np.array([0]))
            base = {"dataset": "embedded", "model": "lenet", "batch_size": 1, "attack": "dlg",
                    "line_search": "strong_wolfe", "labels": "joint", "defense": defense, "level": level}
            rows.append({**base, "iterations": 5, "success_mse": 1e-3, "attack_index": index, "seed": index,
                         "status": "finished", "device": "cpu", "arrays": str(arrays), "position": 0,
                         "image_index": index, "label_correct": True, "mse": 1e-5 if leaks else 0.2,
                         "psnr": 50.0 if leaks else 7.0, "ssim": 0.99 if leaks else 0.02,
                         "lpips": 0.01 if leaks else 0.5, "success": leaks})
            for step in range(6):
                loss = 100 * 0.1 ** step if leaks else 100 * 0.5 ** step + level * 1e3
                curves.append({**base, "attack_index": index, "step": step, "gradient_match_loss": loss,
                               "mean_mse": None})
    table, curve_file = tmp_path / "defenses.csv", tmp_path / "defenses_curves.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    pd.DataFrame(curves).to_csv(curve_file, index=False)
    return table, curve_file


def test_summary_states_thresholds_and_judges_the_papers_claims(tmp_path):
    table, _ = synthetic_results(tmp_path)
    summary = summarise(pd.read_csv(table), THRESHOLDS)
    gaussian = summary[summary.defense == "gaussian"]
    assert stops_from(gaussian) == 1e-2
    judged = [says for _, _, says in claims(pd.read_csv(table))]
    # LeNet cannot decide the noise claims; 0/3 at pruning 0.3 has an interval too wide to say "stops";
    # 3/3 leaking (lower end 44%) is enough to say fp16 and pruning 0.1 leak
    assert judged == ["inconclusive", "inconclusive", "reproduced", "inconclusive", "reproduced"]
    out = tmp_path / "summary.md"
    FIGURES.get("defense_summary")([table], out, {"verdict": THRESHOLDS, "config": "test"})
    text = out.read_text()
    assert "**gaussian** stops the attack from 0.01 on" in text and "**inconclusive**" in text


def test_claims_are_inconclusive_when_the_baseline_does_not_leak(tmp_path):
    table, _ = synthetic_results(tmp_path, baseline_success=False)
    out = tmp_path / "summary.md"
    FIGURES.get("defense_summary")([table], out, {"verdict": THRESHOLDS})
    text = out.read_text()
    stops = [line for line in text.splitlines() if line.startswith("| Pruning more than about 20%")]
    assert stops and all(line.endswith("| **inconclusive** |") for line in stops)
    assert "The baseline itself does not leak here" in text


@pytest.mark.parametrize("name, csv, suffix", [("defense_curves", 1, ".png"), ("defense_reconstructions", 0, ".png"),
                                               ("defense_table", 0, ".md")])
def test_every_defense_figure_renders(tmp_path, name, csv, suffix):
    files = synthetic_results(tmp_path)
    out = tmp_path / f"{name}{suffix}"
    FIGURES.get(name)([files[csv]], out, {"verdict": THRESHOLDS, "model": "lenet", "batch_size": 1, "images": 2})
    assert out.stat().st_size > 0
    if suffix == ".md":
        text = out.read_text()
        assert text.count("| lenet") == 7 and "stops" in text and "leaks" in text
        assert "1.00e-05" in text  # medians keep their format
