"""The DTS and WAN tables and figures read hand-written CSVs whose right answers are worked out here by hand."""

from __future__ import annotations

import numpy as np
import pytest
from report_helpers import assert_lines, capture, lines_by_label, markdown_tables, write_csv

from sharegrad.report import (dtc_accuracy, dtc_curves, dtc_defense_cost, dtc_delay_period, wan_bandwidth,
                              wan_latency, wan_table)

SETUP = {"setup": "digits", "dataset": "digits", "model": "digits_cnn", "world_size": 2, "backend": "gloo",
         "batch_size": 32, "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "epochs": 10, "defense": "none",
         "defense_level": 0.0, "device": "cpu:x86_64"}
METHOD = {"method": "sync", "delay": 0, "period": 1, "ratio": 0.01, "powersgd_rank": 2, "warmup_steps": 0}


def run(accuracy, seed=0, bytes_sent=2e6, steps_per_s=50.0, **settings):
    return {**SETUP, **METHOD, "seed": seed, "final_test_accuracy": accuracy, "bytes_sent_per_epoch": bytes_sent,
            "mean_steps_per_s": steps_per_s, **settings}


def render_md(module, tmp_path, rows):
    out = tmp_path / "out.md"
    module.render([write_csv(tmp_path / "dtc.csv", rows)], out, {"config": "handwritten"})
    return out.read_text()


# --- dtc_accuracy ------------------------------------------------------------------------------------------------

def test_dtc_accuracy_mean_spread_and_difference_from_sync(tmp_path):
    rows = [run(0.90, 0, bytes_sent=1e6, steps_per_s=40.0), run(0.92, 1, bytes_sent=3e6, steps_per_s=60.0),
            run(0.88, 0, method="delayed", delay=2), run(0.86, 1, method="delayed", delay=2),
            run(0.905, 0, method="sparse", period=4),
            run(0.80, 0, method="localsgd", period=4), run(0.84, 0, method="localsgd", period=4, warmup_steps=10),
            run(0.10, 0, defense="gaussian", defense_level=0.01),   # defended: not this table's
            run(0.70, 0, epochs=2), run(0.60, 0, method="delayed", delay=2, epochs=2)]  # another budget
    text = render_md(dtc_accuracy, tmp_path, rows)
    sections = text.split("\n## ")[1:]
    assert len(sections) == 2  # one setup name, two budgets: two sections
    (ten,) = [s for s in sections if "10 epochs" in s]
    (two,) = [s for s in sections if "2 epochs" in s]
    rows10 = {r["method"]: r for r in markdown_tables(ten)[0]}
    assert set(rows10) == {"sync", "delayed(t=2)", "sparse(p=4)", "local SGD(p=4)", "local SGD(p=4, warm-up 10)"}
    assert rows10["sync"][dtc_accuracy.ACCURACY] == "91.00 ± 1.41"  # sd of 90, 92: sqrt(2)
    assert rows10["sync"][dtc_accuracy.SEEDS] == "2"
    assert float(rows10["sync"]["MB sent / rank / epoch"]) == pytest.approx(2.0)   # mean of 1 and 3 MB
    assert float(rows10["sync"]["steps/s"]) == pytest.approx(50.0)
    assert rows10["delayed(t=2)"][dtc_accuracy.ACCURACY] == "87.00 ± 1.41"
    assert float(rows10["delayed(t=2)"]["vs sync (points)"]) == pytest.approx(-4.0)
    assert rows10["sparse(p=4)"][dtc_accuracy.ACCURACY] == "90.50"
    assert float(rows10["sparse(p=4)"]["vs sync (points)"]) == pytest.approx(-0.5)
    assert float(rows10["local SGD(p=4)"]["vs sync (points)"]) == pytest.approx(-11.0)
    assert float(rows10["local SGD(p=4, warm-up 10)"]["vs sync (points)"]) == pytest.approx(-7.0)
    rows2 = {r["method"]: r for r in markdown_tables(two)[0]}
    assert float(rows2["delayed(t=2)"]["vs sync (points)"]) == pytest.approx(-10.0)  # 60 - 70, not against 91


# --- dtc_defense_cost --------------------------------------------------------------------------------------------

def test_dtc_defense_cost_against_the_same_method_undefended(tmp_path):
    rows = [run(0.90, 0), run(0.92, 1), run(0.85, 0, defense="gaussian", defense_level=0.01),
            run(0.88, 0, method="delayed", delay=2), run(0.80, 0, method="delayed", delay=2, defense="fp16"),
            run(0.70, 0, method="delayed", delay=4, defense="fp16"),  # no undefended delay-4 run
            # two warm-ups are two methods: the cost is against the same warm-up (84 - 80), not their mean
            run(0.80, 0, method="localsgd", period=4), run(0.84, 0, method="localsgd", period=4, warmup_steps=10),
            run(0.80, 0, method="localsgd", period=4, warmup_steps=10, defense="fp16"),
            # a 2-epoch budget: its cost is against its own undefended run (60 - 59), not the 10-epoch one
            run(0.60, 0, epochs=2), run(0.59, 0, epochs=2, defense="gaussian", defense_level=0.01)]
    table = markdown_tables(render_md(dtc_defense_cost, tmp_path, rows))[0]
    got = {(r["method"], r["defense"]): (float(r["test accuracy %"]), int(r["seeds"]),
                                         r["cost vs no defense (points)"]) for r in table if r["epochs"] == "10"}
    short = {r["defense"]: r["cost vs no defense (points)"] for r in table if r["epochs"] == "2"}
    assert short == {"none": "+0.00", "gaussian": "+1.00"}
    assert got == {("sync", "none"): (91.0, 2, "+0.00"), ("sync", "gaussian"): (85.0, 1, "+6.00"),
                   ("delayed(t=2)", "none"): (88.0, 1, "+0.00"),
                   ("delayed(t=2)", "fp16"): (80.0, 1, "+8.00"), ("delayed(t=4)", "fp16"): (70.0, 1, "-"),
                   ("local SGD(p=4)", "none"): (80.0, 1, "+0.00"),
                   ("local SGD(p=4, warm-up 10)", "none"): (84.0, 1, "+0.00"),
                   ("local SGD(p=4, warm-up 10)", "fp16"): (80.0, 1, "+4.00")}


# --- dtc figures -------------------------------------------------------------------------------------------------

def epochs(accuracies, losses, seed=0, **settings):
    return [{**SETUP, **METHOD, "seed": seed, **settings, "epoch": e, "test_accuracy": a, "train_loss": l}
            for e, (a, l) in enumerate(zip(accuracies, losses), start=1)]


def test_dtc_curves_mean_over_seeds_per_method(tmp_path, monkeypatch):
    rows = (epochs([0.5, 0.7], [2.0, 1.0], 0) + epochs([0.7, 0.9], [1.0, 0.5], 1)
            + epochs([0.4, 0.6], [3.0, 2.0], 0, method="delayed_nocomp", delay=2)
            + epochs([0.1, 0.1], [9.0, 9.0], 0, defense="int8"))  # defended: not drawn
    captured = capture(monkeypatch, dtc_curves)
    dtc_curves.render([write_csv(tmp_path / "curves.csv", rows)], tmp_path / "c.png", {})
    accuracy, loss = captured.fig.axes
    assert_lines(lines_by_label(accuracy), {"sync": [[1, 60.0], [2, 80.0]],
                                            "delayed(t=2), no comp.": [[1, 40.0], [2, 60.0]]})
    assert lines_by_label(loss)["sync"] == [[1, 1.5], [2, 0.75]]
    assert [l.get_linestyle() for l in accuracy.lines] == ["--", "-"]  # no compensation dashed


def test_dtc_curves_one_row_of_panels_per_budget(tmp_path, monkeypatch):
    rows = epochs([0.5, 0.7], [2.0, 1.0], epochs=2) + epochs([0.9], [0.1], epochs=1)  # one setup, two budgets
    captured = capture(monkeypatch, dtc_curves)
    dtc_curves.render([write_csv(tmp_path / "curves.csv", rows)], tmp_path / "c.png", {})
    one, _, two, _ = captured.fig.axes
    assert (one.get_title(), two.get_title()) == ("digits, 1 epochs: test accuracy", "digits, 2 epochs: test accuracy")
    assert_lines(lines_by_label(one), {"sync": [[1, 90.0]]})
    assert_lines(lines_by_label(two), {"sync": [[1, 50.0], [2, 70.0]]})


def test_dtc_delay_period_points_and_spread(tmp_path, monkeypatch):
    rows = [run(0.90, 0), run(0.92, 1), run(0.88, 0, method="delayed", delay=4), run(0.84, 1, method="delayed", delay=4),
            run(0.80, 0, method="delayed_nocomp", delay=4), run(0.91, 0, method="sparse", period=8),
            run(0.10, 0, method="delayed", delay=4, defense="gaussian", defense_level=0.1)]
    captured = capture(monkeypatch, dtc_delay_period)
    dtc_delay_period.render([write_csv(tmp_path / "dtc.csv", rows)], tmp_path / "d.png", {})
    delay_ax, period_ax = captured.fig.axes
    bars = {c.get_label(): c for c in delay_ax.containers}
    data, _, (segments,) = bars["delayed (compensated)"]
    assert data.get_xydata() == pytest.approx(np.array([[0, 91.0], [4, 86.0]]))  # sync at t = 0
    sd = 100 * np.std([0.88, 0.84], ddof=1)  # sample sd, 2.83 points
    assert np.array(segments.get_segments())[1] == pytest.approx(np.array([[4, 86 - sd], [4, 86 + sd]]))
    assert bars["delayed, no compensation"][0].get_xydata() == pytest.approx(np.array([[4, 80.0]]))
    assert lines_by_label(delay_ax)["sync"][0][1] == pytest.approx(91.0)
    assert_lines({c.get_label(): c[0].get_xydata() for c in period_ax.containers},
                 {"sparse (compensated)": [[1, 91.0], [8, 91.0]]})


def test_dtc_delay_period_one_row_of_panels_per_budget(tmp_path, monkeypatch):
    rows = [run(0.90), run(0.88, method="delayed", delay=4), run(0.60, epochs=2), run(0.50, method="delayed", delay=4, epochs=2)]
    captured = capture(monkeypatch, dtc_delay_period)
    dtc_delay_period.render([write_csv(tmp_path / "dtc.csv", rows)], tmp_path / "d.png", {})
    two, _, ten, _ = captured.fig.axes
    assert two.get_title() == "digits, 2 epochs: accuracy against delay"
    assert_lines({c.get_label(): c[0].get_xydata() for c in two.containers}, {"delayed (compensated)": [[0, 60.0], [4, 50.0]]})
    assert_lines({c.get_label(): c[0].get_xydata() for c in ten.containers}, {"delayed (compensated)": [[0, 90.0], [4, 88.0]]})


# --- WAN ---------------------------------------------------------------------------------------------------------

def point(name, latency, bandwidth, scalability, *, compute=0.03, single=0.015, seed=0, **extra):
    # delay 1000 and 8 bytes: the link never makes this pattern wait, so its modelled step is its compute
    return {"name": name, "method": "delayed", "delay": 2, "period": 1, "ratio": 0.01, "powersgd_rank": 2,
            "warmup_steps": 0, "model": "digits_cnn", "batch_size": 64, "seed": seed, "world_size": 2, "threads": 1,
            "cores_available": 2, "load_1min_before": 1.5, "load_1min_after": 2.5, "latency_ms": latency,
            "bandwidth_mbps": bandwidth, "scalability": scalability, "compute_per_step_s": compute,
            "single_rank_step_s": single, "steps_per_s": 12.5, "model_scalability": 0.5,
            "scalability_vs_model": -0.1, "model_scalability_solo_compute": 0.4, "scalability_vs_solo_model": 0.25,
            "wait_per_step_s": 0.0125, "model_wait_per_step_s": 0.01, "wire_bytes_per_step": 153128.0,
            "pattern_delay": 1000, "pattern_period": 1, "pattern_rounds": 1, "pattern_wire_bytes": 8, **extra}


def wan_points():
    return [point("delayed(2)", 0, 15, 0.6, compute=0.02, single=0.01),
            point("delayed(2)", 300, 15, 0.45, compute=0.03, single=0.015),
            point("delayed(2)", 300, 100, 0.55, compute=0.05, single=0.02),
            point("sync", 300, 15, 0.2, method="sync", delay=0)]


def test_wan_latency_points_per_bandwidth_and_the_model_fed_median_compute(tmp_path, monkeypatch):
    captured = capture(monkeypatch, wan_latency)
    wan_latency.render([write_csv(tmp_path / "wan.csv", wan_points())], tmp_path / "l.png", {})
    at15, at100 = captured.fig.axes
    assert at15.get_title() == "15 Mb/s" and at100.get_title() == "100 Mb/s"
    markers = {l.get_label(): l.get_xydata().tolist() for l in at15.lines if l.get_marker() == "o"}
    assert markers == {"delayed(2)": [[0, 0.6], [300, 0.45]], "sync": [[300, 0.2]]}
    model = [l for l in at15.lines if l.get_marker() != "o" and l.get_linestyle() == "-"][0].get_ydata()
    assert model == pytest.approx(0.5)  # median single 0.0125 / median compute 0.025 on the 15 Mb/s panel
    assert [l.get_xydata().tolist() for l in at100.lines if l.get_marker() == "o"] == [[[300, 0.55]]]


def test_wan_bandwidth_points_per_latency(tmp_path, monkeypatch):
    captured = capture(monkeypatch, wan_bandwidth)
    wan_bandwidth.render([write_csv(tmp_path / "wan.csv", wan_points())], tmp_path / "b.png", {})
    at0, at300 = captured.fig.axes
    assert at300.get_title() == "latency 300 ms"
    markers = {l.get_label(): l.get_xydata().tolist() for l in at300.lines if l.get_marker() == "o"}
    assert markers == {"delayed(2)": [[15, 0.45], [100, 0.55]], "sync": [[15, 0.2]]}
    model = [l for l in at300.lines if l.get_marker() != "o" and l.get_linestyle() == "-"][0].get_ydata()
    assert model == pytest.approx(0.0175 / 0.04)  # medians of (0.015, 0.02) and (0.03, 0.05)


def projection():
    return [{"name": "delayed(20)", "method": "delayed", "delay": 20, "period": 1, "ratio": 0.01, "servers": 4,
             "parameters": 25_600_000, "model_mb": 102.4, "compute_s_per_step": 0.2, "compute_source": "assumed",
             "latency_ms": 300, "bandwidth_mbps": 15, "wire_mb_per_sync": 153.6, "comm_s_per_sync": 82.22,
             "step_s": 82.42, "scalability": 0.0024, "paper_scalability": None, "hidden_latency_s": 0.0,
             "fast_bandwidth_mbps": 10000, "hidden_latency_s_fast": 3.75, "slides_hidden_latency_s": 6.0}]


def test_wan_table_rows_at_the_asked_link_and_accuracy_from_the_dts_sweep(tmp_path):
    dtc = [run(0.90, 0, method="delayed", delay=2), run(0.94, 1, method="delayed", delay=2),
           run(0.50, 0, method="delayed", delay=8), run(0.10, 0, method="delayed", delay=2, defense="fp16")]
    paths = [write_csv(tmp_path / "wan.csv", wan_points()), write_csv(tmp_path / "proj.csv", projection()),
             write_csv(tmp_path / "dtc.csv", dtc)]
    out = tmp_path / "wan.md"
    wan_table.render(paths, out, {"config": "handwritten", "latency_ms": 300, "bandwidth_mbps": 15})
    measured, projected = markdown_tables(out.read_text())
    assert [r["method"] for r in measured] == ["delayed(2)", "sync"]  # only the 300 ms, 15 Mb/s points
    delayed = measured[0]
    assert delayed["scalability measured"] == "0.450"
    assert delayed["compute/step N ranks (ms)"] == "30.0" and delayed["step 1 rank (ms)"] == "15.0"
    assert delayed["measured vs model"] == "-10%" and delayed["measured vs model (solo)"] == "+25%"
    assert delayed["wait/step measured (ms)"] == "12.5"
    assert delayed["bytes on the wire per step"] == "153,128"
    assert delayed["accuracy (DTS sweep)"] == "digits: 92.0% ± 2.8 (2 seeds)"  # delay 2 only, undefended
    assert measured[1]["accuracy (DTS sweep)"] == "not in the DTS sweep"
    (row,) = projected
    assert row["scalability projected"] == "0.002" and row["MB on the wire per sync"] == "153.60"
    assert "1-min load 1.5-2.5" in out.read_text()


def test_wan_table_accuracy_of_the_same_warm_up(tmp_path):
    wan = [point("local SGD(4)", 300, 15, 0.7, method="localsgd", delay=0, period=4, warmup_steps=10)]
    dtc = [run(0.80, 0, method="localsgd", period=4), run(0.84, 0, method="localsgd", period=4, warmup_steps=10)]
    paths = [write_csv(tmp_path / "wan.csv", wan), write_csv(tmp_path / "proj.csv", projection()),
             write_csv(tmp_path / "dtc.csv", dtc)]
    wan_table.render(paths, tmp_path / "wan.md", {"latency_ms": 300, "bandwidth_mbps": 15})
    (row,) = markdown_tables((tmp_path / "wan.md").read_text())[0]
    assert row["accuracy (DTS sweep)"] == "digits: 84.0% (1 seed)"  # not the two warm-ups pooled (82.0 ± 2.8)
