"""The DLG image tables and figures read hand-written CSVs whose right answers are worked out here by hand.

Wilson intervals (95%, z = 1.959964) written out: 3/4 -> [0.3006, 0.9544], 2/2 -> [0.3424, 1],
2/4 -> [0.1500, 0.8500], 1/4 -> [0.0456, 0.6994], 1/3 -> [0.0615, 0.7923], 0/3 -> [0, 0.5615],
5/6 -> [0.4365, 0.9700] (the two budgets of the summary's CSV merged: the answer that must not appear).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from report_helpers import capture, lines_by_label, markdown_tables, write_csv

from sharegrad.errors import UserError
from sharegrad.report import dlg_batch_size, dlg_loss_curves, dlg_reconstructions, dlg_summary, stats

CELL = {"dataset": "embedded", "model": "lenet", "batch_size": 1, "attack": "dlg", "line_search": "none",
        "labels": "joint", "iterations": 100, "defense": "none", "level": 0.0, "success_mse": 1e-3,
        "device": "cpu:x86_64", "seed": 0}


def image(attack_index, success, first_success_step=None, *, position=0, status="finished", mse=1e-4, psnr=40.0,
          label_correct=True, wall_time_s=10.0, seconds_per_evaluation=0.01, **cell):
    return {**CELL, "attack_index": attack_index, "position": position, "image_index": attack_index,
            "status": status, "steps": cell.get("iterations", CELL["iterations"]), "success": success,
            "first_success_step": first_success_step, "mse": mse, "psnr": psnr, "label_correct": label_correct,
            "wall_time_s": wall_time_s, "seconds_per_evaluation": seconds_per_evaluation, **cell}


# --- stats -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("successes,total,low,high", [
    (1, 3, 0.06149, 0.79234), (2, 4, 0.15004, 0.84996), (0, 3, 0.0, 0.56150), (3, 3, 0.43850, 1.0),
    (5, 6, 0.43650, 0.96995), (1, 1, 0.20655, 1.0)])
def test_wilson_interval_matches_the_values_written_out(successes, total, low, high):
    assert stats.wilson_interval(successes, total) == pytest.approx((low, high), abs=1e-5)


def test_wilson_interval_holds_the_rate_at_zero_and_all():
    """At 0/n and n/n the bounds are exactly 0 and 1 (rounding left 4/4's upper bound below 1, and the
    batch-size figure's error bar negative)."""
    for n in range(1, 200):
        assert stats.wilson_interval(0, n)[0] == 0.0 and stats.wilson_interval(n, n)[1] == 1.0
        for k in range(n + 1):
            low, high = stats.wilson_interval(k, n)
            assert low <= k / n <= high


def test_rate_with_interval_text_and_the_empty_sample():
    assert stats.rate_with_interval(3, 4) == "3/4 = 75% [30%, 95%]"
    assert stats.rate_with_interval(0, 2) == "0/2 = 0% [0%, 66%]"
    assert stats.rate_with_interval(0, 0) == "n/a"
    assert all(math.isnan(v) for v in stats.wilson_interval(0, 0))


# --- dlg_summary -------------------------------------------------------------------------------------------------

def summary_rows():
    # Budget 100: four attacks of one image; attack 3 diverged (a failure, never dropped).
    rows = [image(0, True, 10, mse=0.0, psnr=math.inf, wall_time_s=10.0, seconds_per_evaluation=0.01),
            image(1, True, 30, mse=2e-4, psnr=37.0, wall_time_s=20.0, seconds_per_evaluation=0.02),
            image(2, True, 50, mse=5e-4, psnr=33.0, wall_time_s=30.0, seconds_per_evaluation=0.03),
            image(3, False, None, status="diverged", mse=0.3, psnr=5.2, label_correct=False, wall_time_s=100.0,
                  seconds_per_evaluation=0.04)]
    # Budget 300, same cell otherwise: two attacks, both recovered.
    rows += [image(0, True, 100, iterations=300, mse=1e-5, psnr=50.0, wall_time_s=40.0, seconds_per_evaluation=0.05),
             image(1, True, 200, iterations=300, mse=3e-5, psnr=45.0, wall_time_s=60.0, seconds_per_evaluation=0.07)]
    return rows


def render_summary(tmp_path, rows):
    csv = write_csv(tmp_path / "dlg.csv", rows)
    out = tmp_path / "summary.md"
    dlg_summary.render([csv], out, {"config": "handwritten"})
    text = out.read_text()
    (table,) = markdown_tables(text)
    return text, table


def test_dlg_summary_numbers_per_budget(tmp_path):
    text, table = render_summary(tmp_path, summary_rows())
    assert len(table) == 2, table  # two budgets, two rows: they never merge
    by_budget = {int(float(r["iterations"])): r for r in table}
    small, large = by_budget[100], by_budget[300]
    assert small["success rate [95% CI]"] == "3/4 = 75% [30%, 95%]"
    assert small["images"] == "4"
    assert small["diverged attacks"] == "1/4"
    assert float(small["median MSE"]) == pytest.approx(3.5e-4)  # (2e-4 + 5e-4) / 2
    assert float(small["median PSNR (dB)"]) == pytest.approx(35.0)  # inf counted as 99: 5.2 33 | 37 99
    assert small["label accuracy"] == "75%"
    # of 10, 30, 50 and the diverged attack's never (sharegrad.metrics.iterations): (30 + 50) / 2
    assert float(small["median iters to success"]) == 40
    assert float(small["wall s / attack"]) == pytest.approx(25.0)
    assert float(small["ms / evaluation"]) == pytest.approx(25.0)
    assert large["success rate [95% CI]"] == "2/2 = 100% [34%, 100%]"
    assert large["diverged attacks"] == "0/2"
    assert float(large["median iters to success"]) == 150
    assert float(large["median MSE"]) == pytest.approx(2e-5)
    assert "5/6" not in text
    assert small["defense"] == "none" and small["model"] == "lenet" and small["batch_size"] == "1"


def test_dlg_summary_separates_defenses_and_datasets(tmp_path):
    rows = [image(0, True, 10), image(1, False),
            image(0, False, defense="gaussian", level=0.01), image(1, False, defense="gaussian", level=0.01),
            image(0, True, 20, dataset="cifar100")]
    _, table = render_summary(tmp_path, rows)
    got = {(r["dataset"], r["defense"]): r["success rate [95% CI]"] for r in table}
    assert got == {("embedded", "none"): "1/2 = 50% [9%, 91%]", ("embedded", "gaussian"): "0/2 = 0% [0%, 66%]",
                   ("cifar100", "none"): "1/1 = 100% [21%, 100%]"}


def test_dlg_summary_batch_counts_images_and_attacks(tmp_path):
    # one attack of a batch of 3: 3 images, 1 attack; two of the images recovered
    rows = [image(0, s, step, position=p, batch_size=3, wall_time_s=12.0)
            for p, (s, step) in enumerate([(True, 40), (False, None), (True, 60)])]
    _, (row,) = render_summary(tmp_path, rows)
    assert row["images"] == "3"
    assert row["success rate [95% CI]"] == "2/3 = 67% [21%, 94%]"
    assert row["diverged attacks"] == "0/1"
    assert float(row["median iters to success"]) == 60  # of 40, 60 and the third image's never
    assert float(row["wall s / attack"]) == pytest.approx(12.0)


# --- dlg_batch_size ----------------------------------------------------------------------------------------------

def batch_size_rows():
    rows = [image(i, s, step) for i, (s, step) in enumerate([(True, 10), (True, 30), (False, None), (False, None)])]
    # batch size 2: two attacks of two images; one image recovered, at step 70
    rows += [image(a, s, step, position=p, batch_size=2)
             for a, p, s, step in [(0, 0, True, 70), (0, 1, False, None), (1, 0, False, None), (1, 1, False, None)]]
    # budget 300 at batch size 1: a line of its own
    rows += [image(0, True, 150, iterations=300), image(1, True, 250, iterations=300)]
    # defended runs are not this figure's: a success here must not count
    rows += [image(9, True, 5, defense="gaussian", level=0.01)]
    return rows


def test_dlg_batch_size_rates_intervals_and_iterations(tmp_path, monkeypatch):
    captured = capture(monkeypatch, dlg_batch_size)
    dlg_batch_size.render([write_csv(tmp_path / "dlg.csv", batch_size_rows())], tmp_path / "bs.png", {})
    left, right = captured.fig.axes
    bars = {c.get_label(): c for c in left.containers}
    label100 = "embedded / lenet / dlg / none / joint / 100 steps"
    label300 = "embedded / lenet / dlg / none / joint / 300 steps"
    assert set(bars) == {label100, label300}
    data, _, (segments,) = bars[label100]
    assert data.get_xydata().tolist() == [[1, 0.5], [2, 0.25]]  # 2/4 and 1/4
    ends = np.array(segments.get_segments())
    assert np.allclose(ends, [[[1, 0.15004], [1, 0.84996]], [[2, 0.04559], [2, 0.69936]]], atol=1e-5)
    assert bars[label300][0].get_xydata().tolist() == [[1, 1.0]]
    iterations = lines_by_label(right)
    # medians over every image, a failure counting as never (sharegrad.metrics.iterations): 2/4 and 1/4
    # came back, so neither median is reached (the next test: triangles at the budget); both at 300 steps
    assert [x for x, _ in iterations[label100]] == [1, 2]
    assert all(math.isnan(y) for _, y in iterations[label100])
    assert iterations[label300] == [[1, 200.0]]


def test_dlg_batch_size_marks_a_batch_size_where_nothing_came_back_at_its_budget(tmp_path, monkeypatch):
    """Batch size 4, budget 100, none of 4 back: no median to draw, so an open triangle at (4, 100); so do
    batch sizes 1 (2/4 back) and 2 (1/4): a median needs more than half back; the 300-step line gets none."""
    captured = capture(monkeypatch, dlg_batch_size)
    rows = batch_size_rows() + [image(a, False, None, position=p, batch_size=4, mse=0.3)
                                for a in (0,) for p in range(4)]
    dlg_batch_size.render([write_csv(tmp_path / "dlg.csv", rows)], tmp_path / "bs.png", {})
    _, right = captured.fig.axes
    drawn = [c for c in right.collections if len(c.get_offsets())]
    assert len(drawn) == 1 and drawn[0].get_offsets().tolist() == [[1.0, 100.0], [2.0, 100.0], [4.0, 100.0]]
    assert "median not reached: drawn at the budget" in [t.get_text() for t in right.get_legend().get_texts()]


# --- dlg_loss_curves ---------------------------------------------------------------------------------------------

def curve_rows(losses, attack_index, **cell):
    base = {k: CELL[k] for k in ("dataset", "model", "batch_size", "attack", "line_search", "labels",
                                 "iterations", "defense", "level")}
    return [{**base, **cell, "attack_index": attack_index, "step": s, "gradient_match_loss": v, "mean_mse": 0.1}
            for s, v in enumerate(losses)]


def test_dlg_loss_curves_median_and_quartiles_per_cell(tmp_path, monkeypatch):
    rows = (curve_rows([8, 4, 2], 0) + curve_rows([6, 3, 1], 1) + curve_rows([10, 5], 2)  # attack 2 diverged
            + curve_rows([1000, 1000, 1000], 0, defense="gaussian", level=0.01)  # not this figure's
            + curve_rows([100, 50, 25], 0, iterations=300))
    captured = capture(monkeypatch, dlg_loss_curves)
    dlg_loss_curves.render([write_csv(tmp_path / "curves.csv", rows)], tmp_path / "c.png", {})
    (ax,) = captured.fig.axes
    lines = lines_by_label(ax)
    assert lines == {"lenet bs1 none joint 100 steps": [[0, 8.0], [1, 4.0], [2, 1.5]],
                     "lenet bs1 none joint 300 steps": [[0, 100.0], [1, 50.0], [2, 25.0]]}
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    for quartile in (7.0, 9.0, 3.5, 4.5, 1.25, 1.75):  # 25% and 75% of (6 8 10), (3 4 5), (1 2)
        assert np.isclose(band, quartile).any(), quartile


# --- dlg_reconstructions -----------------------------------------------------------------------------------------

def test_dlg_reconstructions_picks_the_cell_and_the_snapshots(tmp_path, monkeypatch):
    steps = np.array([0, 10, 20, 30, 40])
    rows = []
    for attack_index, model in [(0, "lenet"), (1, "lenet"), (0, "resnet20")]:
        value = 0.1 * (attack_index + 1) + (0.5 if model == "resnet20" else 0.0)
        truth = np.full((1, 3, 2, 2), value, dtype=np.float32)
        snapshots = np.stack([np.full((1, 3, 2, 2), value + s / 1000, dtype=np.float32) for s in steps])
        arrays = tmp_path / f"{model}-{attack_index}.npz"
        np.savez(arrays, truth=truth, snapshots=snapshots, snapshot_steps=steps)
        rows.append(image(attack_index, True, 20, model=model, mse=1e-4 * (attack_index + 1), arrays=str(arrays)))
    captured = capture(monkeypatch, dlg_reconstructions)
    dlg_reconstructions.render([write_csv(tmp_path / "dlg.csv", rows)], tmp_path / "r.png",
                               {"model": "lenet", "columns": 3})
    axes = np.array(captured.fig.axes).reshape(2, 4)  # two lenet attacks; truth + steps 0, 20, 40
    assert [ax.get_title() for ax in axes[0]] == ["ground truth", "iter 0", "iter 20", "iter 40"]
    for r, value in enumerate([0.1, 0.2]):
        assert axes[r][0].images[0].get_array()[0, 0, 0] == pytest.approx(value)
        assert axes[r][2].images[0].get_array()[0, 0, 0] == pytest.approx(value + 0.020)
    assert axes[1][-1].texts[0].get_text() == "MSE 2.0e-04\npixel-exact"


def test_dlg_reconstructions_draw_one_budget(tmp_path, monkeypatch):
    rows = []
    for iterations, mse in [(100, 1e-2), (300, 1e-5)]:
        arrays = tmp_path / f"{iterations}.npz"
        np.savez(arrays, truth=np.zeros((1, 3, 2, 2)), snapshots=np.zeros((2, 1, 3, 2, 2)), snapshot_steps=np.array([0, 1]))
        rows.append(image(0, mse < 1e-3, iterations=iterations, mse=mse, arrays=str(arrays)))
    captured = capture(monkeypatch, dlg_reconstructions)
    dlg_reconstructions.render([write_csv(tmp_path / "dlg.csv", rows)], tmp_path / "r.png", {"iterations": 300})
    (label,) = captured.fig.axes[-1].texts
    assert label.get_text() == "MSE 1.0e-05\npixel-exact"
    assert "300 L-BFGS steps" in captured.fig._suptitle.get_text()
    captured.figures.clear()
    dlg_reconstructions.render([write_csv(tmp_path / "dlg.csv", rows)], tmp_path / "r.png", {})
    assert len(captured.fig.axes) == 3  # attack 0 of the first budget only: truth + two snapshots
    assert captured.fig.axes[-1].texts[0].get_text() == "MSE 1.0e-02\nnot recovered"


# Four images, one per verdict of claims.tiers.classify (success_mse 1e-3, recognisable bound 0.2): below the
# MSE threshold; above it with LPIPS 0.05; above both; and the closest of all (MSE 1e-5, LPIPS 0.01, even a
# success flag) from an attack that diverged, which is recovered under neither tier.
VERDICTS = [(True, 2e-4, 0.15, "finished", "pixel-exact"), (False, 2e-3, 0.05, "finished", "recognisable"),
            (False, 0.1, 0.5, "finished", "not recovered"), (True, 1e-5, 0.01, "diverged", "diverged")]


def test_dlg_reconstructions_label_each_image_by_its_tier(tmp_path, monkeypatch):
    rows = []
    for attack_index, (success, mse, lpips, status, _) in enumerate(VERDICTS):
        arrays = tmp_path / f"{attack_index}.npz"
        np.savez(arrays, truth=np.zeros((1, 3, 2, 2)), snapshots=np.zeros((2, 1, 3, 2, 2)),
                 snapshot_steps=np.array([0, 1]))
        rows.append(image(attack_index, success, status=status, mse=mse, lpips=lpips, arrays=str(arrays)))
    captured = capture(monkeypatch, dlg_reconstructions)
    dlg_reconstructions.render([write_csv(tmp_path / "dlg.csv", rows)], tmp_path / "r.png", {"rows": 4})
    axes = np.array(captured.fig.axes).reshape(4, 3)
    assert [axes[r][-1].texts[0].get_text() for r in range(4)] == [
        f"MSE {mse:.1e}\n{verdict}" for _, mse, _, _, verdict in VERDICTS]


def test_defense_reconstructions_label_each_image_by_its_tier(tmp_path, monkeypatch):
    from sharegrad.report import defense_reconstructions

    rows = []
    for i, (success, mse, lpips, status, _) in enumerate(VERDICTS):
        arrays = tmp_path / f"{i}.npz"
        np.savez(arrays, truth=np.zeros((1, 3, 2, 2)), final=np.zeros((1, 3, 2, 2)))
        rows.append(image(i, success, status=status, mse=mse, lpips=lpips, ssim=0.5, arrays=str(arrays)))
    captured = capture(monkeypatch, defense_reconstructions)
    defense_reconstructions.render([write_csv(tmp_path / "d.csv", rows)], tmp_path / "r.png", {"images": 4})
    axes = np.array(captured.fig.axes).reshape(2, 4)  # truth, then the one defense cell
    assert [ax.get_xlabel() for ax in axes[1]] == [f"SSIM 0.50\n{verdict}" for *_, verdict in VERDICTS]


def test_a_run_without_lpips_has_no_recognisable_verdict(tmp_path, monkeypatch):
    """No LPIPS weights: the recognisable tier cannot be judged, so an image above the MSE threshold is not
    recovered (not silently recognisable)."""
    arrays = tmp_path / "0.npz"
    np.savez(arrays, truth=np.zeros((1, 3, 2, 2)), snapshots=np.zeros((2, 1, 3, 2, 2)), snapshot_steps=np.array([0, 1]))
    rows = [image(0, False, mse=2e-3, lpips=float("nan"), arrays=str(arrays))]
    captured = capture(monkeypatch, dlg_reconstructions)
    dlg_reconstructions.render([write_csv(tmp_path / "dlg.csv", rows)], tmp_path / "r.png", {})
    assert captured.fig.axes[-1].texts[0].get_text() == "MSE 2.0e-03\nnot recovered"


def test_dlg_summary_says_what_the_sample_can_show_and_judges_a_perceptual_criterion(tmp_path):
    # 5 attacks of one cell (a rate it bounds), 1 attack of Inverting Gradients (the outcome on one image),
    # whose image is recognisable (LPIPS 0.1) though not pixel-exact
    rows = [image(i, True, 50, lpips=0.01, ssim=0.99) for i in range(5)]
    rows.append(image(9, False, attack="inverting_gradients", mse=0.01, lpips=0.1, ssim=0.4))
    csv = write_csv(tmp_path / "dlg.csv", rows)
    out = tmp_path / "summary.md"
    note = {"model": CELL["model"], "batch_size": CELL["batch_size"], "attack": "inverting_gradients",
            "line_search": CELL["line_search"], "labels": CELL["labels"], "iterations": CELL["iterations"],
            "defense": "none", "level": 0, "note": "judge it by the recognisable column"}
    dlg_summary.render([csv], out, {"config": "handwritten", "notes": [note]})
    text = out.read_text()
    (line,) = [ln for ln in text.splitlines() if ln.startswith("**What this sample can and cannot show:**")]
    can, cannot = line.split("it cannot judge a rate")
    assert "dlg" in can and "(5/5, 95% interval 57%-100%)" in can and "inverting_gradients" not in can
    assert "inverting_gradients" in cannot and "(0/1, 95% interval 0%-79%; judge it by the recognisable column)" in cannot
    (table,) = markdown_tables(text)
    by_attack = {r["attack"]: r for r in table}
    column = "recognisable (LPIPS <= 0.2) [95% CI]"
    assert by_attack["inverting_gradients"][column] == "1/1 = 100% [21%, 100%]"
    assert by_attack["dlg"][column] == "5/5 = 100% [57%, 100%]"
    assert "Success rate: the pixel-exact tier, image MSE < 0.001" in text
    assert "Recognisable: LPIPS (AlexNet) <= 0.2" in text
    assert by_attack["inverting_gradients"]["success rate [95% CI]"] == "0/1 = 0% [0%, 79%]"
    assert by_attack["inverting_gradients"]["attacks"] == "1 (few)" and by_attack["dlg"]["attacks"] == "5"


def test_dlg_summary_recognisable_rate_is_the_tiers_count(tmp_path):
    """LPIPS 0.2 (exactly the claims file's bound) and 0.05 count; 0.21 does not; LPIPS 0.01 from a diverged
    attack never does: 2/4. A CSV without LPIPS has no recognisable rate (n/a), not 0/4."""
    rows = [image(0, False, mse=2e-3, lpips=0.2), image(1, False, mse=2e-3, lpips=0.21),
            image(2, False, mse=1e-5, lpips=0.01, status="diverged"), image(3, True, 50, mse=2e-4, lpips=0.05)]
    _, table = render_summary(tmp_path, rows)
    (row,) = table
    assert row["recognisable (LPIPS <= 0.2) [95% CI]"] == "2/4 = 50% [15%, 85%]"
    assert row["success rate [95% CI]"] == "1/4 = 25% [5%, 70%]"
    _, (row,) = render_summary(tmp_path, [{k: v for k, v in r.items() if k != "lpips"} for r in rows])
    assert row["recognisable (LPIPS <= 0.2) [95% CI]"] == "n/a"


def test_training_tables_say_what_one_seed_can_show():
    from sharegrad.report.sample import seeds_line

    assert "one run's accuracy, with no spread" in seeds_line([1, 1, 1])
    assert "3 seeds per row" in seeds_line([3, 3]) and "two standard deviations" in seeds_line([3, 3])
    assert "1 to 3 seed(s) per row" in seeds_line([1, 3])


# --- per image -----------------------------------------------------------------------------------------------------

def test_per_image_table_one_row_per_image_in_batch_order(tmp_path):
    """Two batches of 2 at batch size 2 (attack 1's images written first, out of order), one other cell that
    the filter drops: each image keeps its own numbers, label and first step; '-' where it never succeeded."""
    from sharegrad.report import dlg_per_image

    cell = {"model": "resnet18_sigmoid", "batch_size": 2, "iterations": 300, "true_label": 7, "ssim": 0.5}
    rows = [image(1, False, None, position=1, mse=0.2, psnr=7.0, recovered_label=3, image_index=9, lpips=0.15, **cell),
            image(1, True, 120, position=0, mse=2e-4, psnr=37.0, recovered_label=7, image_index=8, lpips=0.1, **cell),
            image(0, True, 45, position=0, mse=1e-5, psnr=50.0, recovered_label=7, image_index=0, lpips=0.01, **cell),
            image(0, False, None, position=1, mse=0.1, psnr=10.0, recovered_label=7, image_index=1, lpips=0.01,
                  status="diverged", **cell),
            image(0, True, 10, mse=1e-6, true_label=1, recovered_label=1, ssim=0.9, lpips=0.01)]
    out = tmp_path / "per_image.md"
    dlg_per_image.render([write_csv(tmp_path / "dlg.csv", rows)], out, {"model": "resnet18_sigmoid"})
    text = out.read_text()
    (table,) = markdown_tables(text)
    # LPIPS at most 0.2: images 0, 8 and 9 (image 1's attack diverged); below the MSE threshold: 0 and 8
    assert "2 of 4 images pixel-exact, 3 of 4 images recognisable." in text
    assert [(r["attack"], r["position"], r["image"]) for r in table] == [
        ("0", "0", "0"), ("0", "1", "1"), ("1", "0", "8"), ("1", "1", "9")]
    assert [r["first step below threshold"] for r in table] == ["45", "-", "120", "-"]
    assert [r["MSE"] for r in table] == ["1.00e-05", "1.00e-01", "2.00e-04", "2.00e-01"]
    assert [r["recovered label"] for r in table] == ["7", "7", "7", "3"]
    assert [r["attack status"] for r in table] == ["finished", "diverged", "finished", "finished"]
    assert [r["tier"] for r in table] == ["pixel-exact", "diverged", "pixel-exact", "recognisable"]


def test_per_image_table_counts_below_looser_thresholds_without_diverged_attacks(tmp_path):
    """Threshold 1e-3: an image exactly at 2e-3 is not below it (strict, as success is), a diverged attack's
    image is never counted, whatever its MSE."""
    from sharegrad.report import dlg_per_image

    rows = [image(0, False, position=p, mse=mse, image_index=p, true_label=3, recovered_label=3)
            for p, mse in enumerate([1.5e-3, 2e-3, 4e-3, 8e-3, 0.05])]
    rows.append(image(1, False, mse=1.5e-3, status="diverged", image_index=9, true_label=3, recovered_label=3))
    out = tmp_path / "per_image.md"
    dlg_per_image.render([write_csv(tmp_path / "dlg.csv", rows)], out, {})
    assert ("0 of 6 images pixel-exact. At looser thresholds (same matching, diverged attacks not "
            "counted): MSE < 0.002: 1 of 6; MSE < 0.005: 3 of 6; MSE < 0.01: 4 of 6.") in out.read_text()
    dlg_per_image.render([write_csv(tmp_path / "dlg.csv", rows)], out, {"looser": [100]})
    assert "MSE < 0.1: 5 of 6." in out.read_text()
    for bad in ("two", [2, -1], 3):
        with pytest.raises(UserError, match="option 'looser' must be a list of positive numbers"):
            dlg_per_image.render([write_csv(tmp_path / "dlg.csv", rows)], out, {"looser": bad})


def test_per_image_table_only_where_the_config_asks():
    from sharegrad.report import FIGURES

    spec = FIGURES.get("dlg_per_image").figure_spec
    assert spec.outputs({"name": "x", "dlg": {"figures": {}}}) == {}
    assert spec.outputs({"name": "x", "dlg": {"figures": {"per_image": {"batch_size": 8}}}}) == {
        "dlg_per_image": {"config": "x", "batch_size": 8}}


def test_iterations_table_median_counts_failures_as_never_and_sits_beside_the_paper(tmp_path):
    """Batch 1: first successes at 40 and 60 and one image never back: the median of (40, 60, never) is 60
    (over the successes alone it would be 50). Batch 2: one of three back: not reached. The paper's
    figures come from the claims file (602 at batch size 2); batch size 3 has none. Two CSVs read as one;
    a defended row is left out."""
    from sharegrad.report import dlg_iterations

    paper = dlg_iterations.paper_iterations()
    first = [image(0, True, 40), image(1, True, 60), image(2, False, None, mse=0.2),
             image(0, True, 5, defense="gaussian", level=0.01)]
    second = [image(0, False, None, batch_size=2, iterations=1200, position=0, mse=0.3),
              image(0, True, 10, batch_size=2, iterations=1200, position=1),
              image(1, False, None, batch_size=2, iterations=1200, position=0, mse=0.3),
              image(0, True, 7, batch_size=3, iterations=50)]
    out = tmp_path / "iterations.md"
    dlg_iterations.render([write_csv(tmp_path / "a.csv", first), write_csv(tmp_path / "b.csv", second)], out, {})
    (table,) = markdown_tables(out.read_text())
    assert [r["batch size"] for r in table] == ["1", "2", "3"]
    assert [r["median steps to success"] for r in table] == ["60", "not reached within 1200", "7"]
    assert [r["recovered [95% CI]"] for r in table] == ["2/3 [21%, 94%]", "1/3 [6%, 79%]", "1/1 [21%, 100%]"]
    assert [r["paper (recalled)"] for r in table] == [f"{paper[1]:g}", f"{paper[2]:g}", "-"]
    assert table[1]["budget / paper"] == f"{1200 / paper[2]:.2f}" and table[2]["budget / paper"] == "-"
    assert paper[2] == 602  # the claims file's recalled figure for batch size 2
