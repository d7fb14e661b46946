"""`sharegrad plan`: expected evaluations and hours from kept measurements, worked out by hand."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sharegrad.plan import compare, load_measurements, plan, totals

ROOT = Path(__file__).resolve().parents[1]


def small_config() -> dict:
    config = yaml.safe_load((ROOT / "experiments" / "smoke.yaml").read_text())
    config["dlg"]["grids"] = [
        {"model": ["lenet"], "batch_size": [1], "attack": ["dlg"], "line_search": ["strong_wolfe"],
         "labels": ["joint"], "iterations": [100], "attacks": 6},
        {"model": ["lenet"], "batch_size": [1], "attack": ["dlg"], "line_search": ["strong_wolfe"],
         "labels": ["joint"], "iterations": [300], "attacks": 2},
        {"model": ["resnet56_sigmoid"], "batch_size": [1], "attack": ["dlg"], "line_search": ["none"],
         "labels": ["joint"], "iterations": [50], "attacks": 1},
    ]
    config["dlg"]["chunk_size"] = 4
    for section in ("defenses", "text", "dtc", "wan"):
        config.pop(section)
    return config


def write_measurements(root: Path) -> None:
    (root / "throughput").mkdir(parents=True)
    # a speed benchmark: LeNet costs 10 ms per evaluation sequentially, 4 ms batched, on "cpu:test" at 1 thread
    pd.DataFrame([{"model": "lenet", "engine": "sequential", "device": "cpu:test", "threads": 1,
                   "ms_per_evaluation": 10.0},
                  {"model": "lenet", "engine": "batched-lockstep", "device": "cpu:test", "threads": 1,
                   "ms_per_evaluation": 4.0}]).to_csv(root / "throughput" / "bench.csv", index=False)
    # kept attacks at budget 100: 900, 1000 and 1100 evaluations (median 1000), and one diverged (ignored)
    rows = [{"model": "lenet", "batch_size": 1, "attack": "dlg", "line_search": "strong_wolfe", "labels": "joint",
             "iterations": 100, "defense": "none", "level": 0.0, "evaluations": e, "status": s,
             "seconds_per_evaluation": 0.05, "device": "cpu:other", "attack_index": i, "arrays": f"a{i}.npz"}
            for i, (e, s) in enumerate([(900, "finished"), (1000, "finished"), (1100, "finished"),
                                        (50, "diverged")])]
    pd.DataFrame(rows).to_csv(root / "dlg.csv", index=False)


def test_plan_from_kept_measurements(tmp_path):
    write_measurements(tmp_path)
    m = load_measurements([tmp_path], startup_s=5.0)
    config = small_config()
    table = plan(config, m)
    cpu = table[table.device == "cpu:test / 1 thread(s)"].set_index("cell")
    at100 = cpu[cpu.index.str.contains("lenet") & cpu.index.str.endswith("iterations~100")].iloc[0]
    # 6 attacks in jobs of 4: 2 jobs; 1000 evaluations each (median of the finished three), sequential
    # engine (no dlg_engine in the config): 10 ms -> 6 * 1000 * 0.010 s + 2 jobs * 5 s = 70 s
    assert at100.jobs == 2 and at100.evaluations_per_unit == 1000
    assert at100.hours == pytest.approx(70 / 3600)
    at300 = cpu[cpu.index.str.endswith("iterations~300")].iloc[0]
    # no kept attack at 300 steps: 10 evaluations per step (1000 / 100) scaled to 300 -> 3000
    assert at300.evaluations_per_unit == pytest.approx(3000)
    assert "scaled from 3 kept attacks at budget 100" in at300.evaluations_from
    assert at300.hours == pytest.approx((2 * 3000 * 0.010 + 5) / 3600)
    resnet = cpu[cpu.index.str.contains("resnet56")].iloc[0]
    assert math.isnan(resnet.hours) and resnet.cost_from.startswith("no measurement")
    # no line search: at most max_iter = 20 evaluations per outer step, + the final one
    assert resnet.evaluations_per_unit == 50 * 20 + 1
    # the kept attacks' own device is a second device class, with their 50 ms per evaluation
    other = table[table.device == "cpu:other / 1 thread(s)"].set_index("cell")
    assert other.loc[at100.name, "ms_per_evaluation"] == pytest.approx(50.0)
    summary = totals(table)
    overall = summary[(summary.device == "cpu:test / 1 thread(s)") & (summary.stage == "all")].iloc[0]
    assert overall.unmeasured == 1 and overall.jobs == 2 + 1 + 1
    assert overall.hours == pytest.approx((70 + 65) / 3600)


def test_the_profile_engine_picks_the_batched_cost(tmp_path):
    write_measurements(tmp_path)
    m = load_measurements([tmp_path], startup_s=0.0)
    config = {**small_config(), "dlg_engine": "batched", "attacks_per_job": 8}
    cpu = plan(config, m)
    cpu = cpu[cpu.device == "cpu:test / 1 thread(s)"].set_index("cell")
    at100 = cpu[cpu.index.str.contains("lenet") & cpu.index.str.endswith("iterations~100")].iloc[0]
    assert at100.jobs == 1 and at100.ms_per_evaluation == pytest.approx(4.0)
    assert at100.hours == pytest.approx(6 * 1000 * 0.004 / 3600)


def test_compare_reads_the_benchmark_files(tmp_path):
    write_measurements(tmp_path)
    m = load_measurements([tmp_path], startup_s=5.0)
    table = plan(small_config(), m)
    logs = tmp_path / "logs"
    for i, seconds in enumerate([40.0, 60.0]):
        folder = logs / "dlg" / f"cell{i}"
        folder.mkdir(parents=True)
        (folder / "chunk~0-4.benchmark.tsv").write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:40\t100\n")
    checked = compare(table, logs).set_index(["device", "rule"])
    row = checked.loc[("cpu:test / 1 thread(s)", "dlg_attack")]
    assert row.measured_s == pytest.approx(100.0)
    assert row.planned_s == pytest.approx(70 + 65)  # the resnet cell has no measurement
    assert row.ratio == pytest.approx(100 / 135)
    assert row.unmeasured_cells == 1


def test_plan_cli_on_smoke_lists_every_stage(tmp_path, capsys):
    from sharegrad.cli import main

    out = tmp_path / "plan.csv"
    assert main(["plan", "--config", str(ROOT / "experiments" / "smoke.yaml"), "--startup-s", "1",
                 "--measurements", str(ROOT / "results" / "cpu"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for stage in ("dlg", "defenses", "text", "dtc", "wan", "all"):
        assert f"| {stage} |" in printed
    assert "no measurement" in printed  # the tiny BERT has no kept measurement
    assert len(pd.read_csv(out)) > 0


def test_thread_counts_written_differently_are_one_device_class(tmp_path):
    write_measurements(tmp_path)
    extra = pd.DataFrame([{"model": "lenet", "engine": "sequential", "device": "cpu:test", "threads": 1.0,
                           "ms_per_evaluation": 30.0}])
    extra.to_csv(tmp_path / "throughput" / "bench2.csv", index=False)
    m = load_measurements([tmp_path], startup_s=0.0)
    from sharegrad.plan import device_classes, evaluation_cost

    assert device_classes(m).count(("cpu:test", 1)) == 1
    assert evaluation_cost(m, ("cpu:test", 1), "lenet", 1, "sequential")[0] == pytest.approx(20.0)  # median 10, 30


def test_the_digits_size_the_plan_knows_is_the_written_set(tmp_path):
    """The plan counts a digits run's steps from the set's known size (not from data on disk, so the same
    plan comes out before and after `sharegrad data digits`); it must be the size that command writes."""
    import numpy as np

    from sharegrad.data.digits import write_digits
    from sharegrad.plan import TRAIN_SIZES

    with np.load(write_digits(tmp_path / "digits.npz")) as archive:
        assert len(archive["y_train"]) == TRAIN_SIZES["digits"]
