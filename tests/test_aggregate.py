"""The aggregation stages gather a few hand-written JSON records; the rows they write are checked field by field,
and the image records are carried on into the DLG summary, whose numbers are worked out here by hand."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from report_helpers import markdown_tables

from sharegrad.errors import UserError
from sharegrad.report import dlg_summary
from sharegrad.stages import aggregate_dlg, aggregate_dlg_text, aggregate_dtc


def image(position, success, first_success_step=None, mse=1e-4, label_correct=True):
    return {"position": position, "image_index": 10 + position, "true_label": 3, "recovered_label": 3 if label_correct else 4,
            "label_correct": label_correct, "mse": mse, "psnr": 40.0, "ssim": 0.9, "lpips": 0.1, "success": success,
            "first_success_step": first_success_step}


def attack_record(attack_index, images, *, status="finished", iterations=100, batch_size=2, loss_curve=(4.0, 2.0, 1.0),
                  mse_curve=(0.3, 0.2, 0.1), attack_config=None, wall_time_s=10.0):
    config = {"line_search": "strong_wolfe", "labels": "idlg", "iterations": iterations} if attack_config is None \
        else attack_config
    return {"parameters": {"dataset": "embedded", "model": "lenet", "batch_size": batch_size, "attack": "dlg",
                           "attack_config": config, "defense": "gaussian", "defense_level": 0.01, "success_mse": 1e-3},
            "attack_index": attack_index, "seed": 7, "status": status, "diverged_at": 2 if status == "diverged" else None,
            "steps": len(loss_curve), "evaluations": 20, "wall_time_s": wall_time_s, "seconds_per_evaluation": 0.5,
            "engine": "sequential", "final_loss": loss_curve[-1], "label_multiset_overlap": 1.0,
            "provenance": {"device": "cpu:x86_64", "git_commit": "abc123", "config_hash": "h"},
            "files": {"arrays": f"arrays/attack~{attack_index}.npz"}, "images": images,
            "loss_curve": list(loss_curve), "mse_curve": list(mse_curve)}


def write_records(folder, records):
    folder.mkdir(parents=True, exist_ok=True)
    for i, record in enumerate(records):
        (folder / f"attack~{i}.json").write_text(json.dumps(record))
    return folder


def records():
    return [attack_record(0, [image(0, True, 40), image(1, True, 60)], wall_time_s=10.0),
            attack_record(1, [image(0, False, mse=0.2, label_correct=False), image(1, False, mse=0.3)],
                          status="diverged", loss_curve=(4.0, math.inf), mse_curve=(0.3,), wall_time_s=30.0),
            attack_record(0, [image(0, True, 250)], iterations=300, batch_size=1)]


def test_aggregate_dlg_one_row_per_image_and_per_step(tmp_path):
    folder = write_records(tmp_path / "chunk", records())
    table, curves = aggregate_dlg.flatten(aggregate_dlg.read_records([folder]))
    assert len(table) == 5  # 2 + 2 + 1 images
    assert table.success.tolist() == [True, True, False, False, True]
    assert table.first_success_step.tolist()[:2] == [40, 60]
    assert table.status.tolist() == ["finished", "finished", "diverged", "diverged", "finished"]
    assert table.iterations.tolist() == [100, 100, 100, 100, 300]
    assert table.batch_size.tolist() == [2, 2, 2, 2, 1]
    assert table.image_index.tolist() == [10, 11, 10, 11, 10]
    first = table.iloc[0]
    assert (first.line_search, first.labels, first.defense, first.level) == ("strong_wolfe", "idlg", "gaussian", 0.01)
    assert (first.engine, first.git_commit, first.arrays) == ("sequential", "abc123", "arrays/attack~0.npz")
    assert len(curves) == 3 + 2 + 3
    diverged = curves[(curves.attack_index == 1)]
    assert diverged.gradient_match_loss.tolist() == [4.0, math.inf]
    assert diverged.mean_mse.tolist()[0] == 0.3 and pd.isna(diverged.mean_mse.tolist()[1])  # shorter mse curve
    assert sorted(curves.iterations.unique()) == [100, 300]  # the budget travels with the curve


def test_aggregate_dlg_defaults_and_unreadable_records(tmp_path):
    record = attack_record(0, [image(0, True, 5)], attack_config={}, batch_size=1)
    del record["engine"]
    folder = write_records(tmp_path / "old", [record])
    table, _ = aggregate_dlg.flatten(aggregate_dlg.read_records([folder]))
    assert (table.line_search[0], table.labels[0], table.engine[0]) == ("none", "joint", None)
    (folder / "attack~9.json").write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        aggregate_dlg.read_records([folder])


def test_records_through_aggregation_into_the_summary(tmp_path):
    folder = write_records(tmp_path / "chunk", records())
    table, _ = aggregate_dlg.flatten(aggregate_dlg.read_records([folder]))
    csv = tmp_path / "dlg.csv"
    table.to_csv(csv, index=False)
    out = tmp_path / "summary.md"
    dlg_summary.render([csv], out, {})
    rows = {int(float(r["iterations"])): r for r in markdown_tables(out.read_text())[0]}
    assert rows[100]["success rate [95% CI]"] == "2/4 = 50% [15%, 85%]"  # the diverged attack's images count
    assert rows[100]["diverged attacks"] == "1/2"
    # two of four back: the median's middle pair holds a never (sharegrad.metrics.iterations)
    assert rows[100]["median iters to success"] == "not reached within 100"
    assert rows[100]["label accuracy"] == "75%"
    assert float(rows[100]["wall s / attack"]) == pytest.approx(20.0)  # per attack, not per image
    assert rows[300]["success rate [95% CI]"] == "1/1 = 100% [21%, 100%]"
    assert float(rows[300]["median iters to success"]) == 250


# --- DTS runs ----------------------------------------------------------------------------------------------------

def dtc_record(method, seed, accuracy, epochs):
    return {"parameters": {"dataset": "digits", "model": "digits_cnn", "method": method, "delay": 2, "period": 1,
                           "ratio": 0.01, "powersgd_rank": 2, "warmup_steps": 0, "defense": "none", "defense_level": 0.0,
                           "seed": seed, "epochs": len(epochs), "batch_size": 32, "lr": 0.1, "momentum": 0.9,
                           "weight_decay": 5e-4, "world_size": 2, "backend": "gloo"},
            "method_label": method, "final": {"test_accuracy": accuracy, "test_accuracy_min_rank": accuracy - 0.01,
                                              "test_accuracy_max_rank": accuracy + 0.01},
            "total_steps": 100, "wall_time_s": 5.0, "curves": epochs,
            "provenance": {"device": "cpu:x86_64", "git_commit": "abc123"}}


def test_aggregate_dtc_run_row_means_over_epochs_and_setup_from_the_path(tmp_path):
    epochs = [{"epoch": 1, "steps_per_s": 10.0, "bytes_sent": 100, "comm_wait_s": None, "test_accuracy": 0.5},
              {"epoch": 2, "steps_per_s": 20.0, "bytes_sent": 200, "comm_wait_s": 1.0, "test_accuracy": 0.7},
              {"epoch": 3, "steps_per_s": 30.0, "bytes_sent": 600, "comm_wait_s": 2.0, "test_accuracy": 0.8}]
    files = []
    for setup, method, accuracy in [("digits", "delayed", 0.8), ("digits_long", "sync", 0.9)]:
        path = tmp_path / "dtc" / f"setup~{setup}" / f"method~{method}" / "run.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(dtc_record(method, 3, accuracy, epochs)))
        files.append(path)
    table, curves = aggregate_dtc.flatten(files)
    assert table.setup.tolist() == ["digits", "digits_long"]
    assert table.method.tolist() == ["delayed", "sync"]
    first = table.iloc[0]
    assert first.final_test_accuracy == 0.8 and first.final_accuracy_min_rank == pytest.approx(0.79)
    assert first.mean_steps_per_s == 20.0
    assert first.bytes_sent_per_epoch == 300.0  # (100 + 200 + 600) / 3
    assert first.comm_wait_s_per_epoch == 1.5   # the epoch without a measured wait left out
    assert (first.delay, first.seed, first.epochs, first.world_size) == (2, 3, 3, 2)
    assert table.record.tolist() == [f.as_posix() for f in files]  # each row names the run that made it
    assert "record" not in curves
    assert len(curves) == 6
    assert curves[curves.setup == "digits_long"].test_accuracy.tolist() == [0.5, 0.7, 0.8]
    (tmp_path / "bad.json").write_text("[")
    with pytest.raises(UserError, match="cannot read run"):
        aggregate_dtc.flatten([tmp_path / "bad.json"])


# --- text runs ---------------------------------------------------------------------------------------------------

def test_aggregate_dlg_text_one_row_per_budget(tmp_path):
    metrics = {"token_accuracy": 0.5, "token_set_recall": 1.0, "rouge1_f": 0.6, "rouge2_f": 0.2, "rougeL_f": 0.4,
               "exact_match": False, "correct_by_position": [True, False, True], "tokens": ["a", "##b", "c"],
               "text": "ab c"}
    record = {"kind": "dlg_text", "parameters": {"model": "bert_tiny", "attack": "text_dlg", "defense": "none",
                                                 "defense_level": 0.0},
              "weights": {"weights": "seeded", "parameters": 10}, "sentence": {"id": "slide_1", "source": "slides"},
              "n_tokens": 3, "true_tokens": ["a", "##b", "c"], "seed": 0, "status": "finished", "steps": 30,
              "evaluations": 90, "wall_time_s": 3.0, "seconds_per_evaluation": 0.03, "final_loss": 0.01,
              "first_exact_step": 25, "provenance": {"device": "cpu", "git_commit": "abc", "config_hash": "h"},
              "at_budget": {"10": {**metrics, "step": 10}, "30": {**metrics, "step": 30, "exact_match": True,
                                                                   "token_accuracy": 1.0}},
              "snapshots": [{"step": 0, "tokens": ["x"]}, {"step": 10, "tokens": ["a", "b"]}]}
    table, snapshots = aggregate_dlg_text.flatten([record])
    assert table.budget.tolist() == [10, 30]
    assert table.token_accuracy.tolist() == [0.5, 1.0]
    assert table.exact_match.tolist() == [False, True]
    assert table.correct_by_position.tolist() == ["101", "101"]
    assert table.true_text.tolist()[0] == "a ##b c"
    assert snapshots.tokens.tolist() == ["x", "a b"]


def test_text_curves_pair_each_step_with_the_loss_and_accuracy_there(tmp_path):
    """loss_curve[k] is the loss after k steps, accuracy_curve names its steps: a curve shifted by one step, or
    joined by position instead of step, puts the 0.5 accuracy beside the wrong loss."""
    record = {"kind": "dlg_text", "parameters": {"model": "bert_tiny", "attack": "text_dlg", "defense": "none",
                                                 "defense_level": 0.0},
              "sentence": {"id": "slide_1", "source": "slides"}, "steps": 3,
              "at_budget": {"1": {}, "3": {}}, "loss_curve": [9.0, 4.0, 2.0, 1.5],
              "accuracy_curve": [{"step": 3, "token_accuracy": 1.0, "rougeL_f": 1.0},
                                 {"step": 0, "token_accuracy": 0.0, "rougeL_f": 0.1},
                                 {"step": 1, "token_accuracy": 0.5, "rougeL_f": 0.6}]}
    curves = aggregate_dlg_text.curves([record])
    assert curves.step.tolist() == [0, 1, 2, 3]
    assert curves.gradient_match_loss.tolist() == [9.0, 4.0, 2.0, 1.5]
    assert curves.token_accuracy.tolist()[:2] == [0.0, 0.5] and curves.token_accuracy.tolist()[3] == 1.0
    assert math.isnan(curves.token_accuracy.tolist()[2])  # no decoded point at step 2: none made up
    assert set(curves.iterations) == {3} and set(curves.sentence_id) == {"slide_1"}


def test_aggregate_dlg_refuses_one_cell_of_two_settings_or_one_attack_twice(tmp_path, cli_env):
    import subprocess

    from conftest import venv_bin

    lr = {"line_search": "strong_wolfe", "labels": "idlg", "iterations": 100}
    one = write_records(tmp_path / "a", [attack_record(0, [image(0, True, 40)], attack_config={**lr, "lr": 1.0})])
    other = write_records(tmp_path / "b", [attack_record(1, [image(0, True, 40)], attack_config={**lr, "lr": 0.5})])
    out = ["--out", str(tmp_path / "dlg.csv"), "--curves", str(tmp_path / "curves.csv")]
    proc = subprocess.run([venv_bin("sharegrad"), "aggregate-dlg", str(one), str(other), *out],
                          capture_output=True, text=True, env=cli_env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "attack_config.lr: 1.0 vs 0.5" in proc.stderr and "aggregate them separately" in proc.stderr
    assert not (tmp_path / "dlg.csv").exists()
    twice = write_records(tmp_path / "c", [attack_record(0, [image(0, True, 40)], attack_config={**lr, "lr": 1.0})])
    with pytest.raises(UserError, match="both hold attack 0"):
        sources = []
        aggregate_dlg.check_one_setting_per_cell(aggregate_dlg.read_records([one, twice], sources), sources)
    # the same settings in two folders (two chunks of one cell) aggregate as before
    more = write_records(tmp_path / "d", [attack_record(1, [image(0, False, mse=0.2)], attack_config={**lr, "lr": 1.0})])
    proc = subprocess.run([venv_bin("sharegrad"), "aggregate-dlg", str(one), str(more), *out],
                          capture_output=True, text=True, env=cli_env)
    assert proc.returncode == 0, proc.stderr
    assert len(pd.read_csv(tmp_path / "dlg.csv")) == 2
