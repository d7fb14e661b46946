"""The rate-against-threshold figure (report/dlg_threshold.py) on a hand-written CSV whose answers are
worked out here.

One cell of five images, the run's success_mse 1e-3, the recognisable bound 0.2:

    image  MSE     LPIPS  attack
    A      5e-4    0.05   finished
    B      1e-3    0.2    finished     exactly at both bounds: MSE is strict (not below), LPIPS is not (at most)
    C      3e-3    0.3    finished
    D      1e-5    0.01   diverged     closest of all, and never recovered
    E      5e-2    0.5    finished

Pixel-exact, images with MSE below t: t = 1e-3 -> A (1/5); 2e-3 -> A, B (2/5); 1e-2 -> A, B, C (3/5);
0.1 -> A, B, C, E (4/5, never 5: D diverged). Recognisable, LPIPS at most t: 0.1 -> A (1/5);
0.2 -> A, B (2/5); 0.6 -> 4/5. The images of D stay in the denominator (5). Wilson 95% intervals
(z = 1.959964): 1/5 -> [0.03622, 0.62447], 2/5 -> [0.11762, 0.76928], 3/5 -> [0.23072, 0.88238],
4/5 -> [0.37553, 0.96378].
"""

from __future__ import annotations

import numpy as np
import pytest
from report_helpers import capture, write_csv

from sharegrad.claims import tiers
from sharegrad.errors import UserError
from sharegrad.report import FIGURES, dlg_threshold

CELL = {"dataset": "embedded", "model": "lenet", "batch_size": 1, "attack": "dlg", "line_search": "strong_wolfe",
        "labels": "joint", "iterations": 300, "defense": "none", "level": 0.0, "success_mse": 1e-3}
IMAGES = [("A", 5e-4, 0.05, "finished"), ("B", 1e-3, 0.2, "finished"), ("C", 3e-3, 0.3, "finished"),
          ("D", 1e-5, 0.01, "diverged"), ("E", 5e-2, 0.5, "finished")]
WILSON = {1: (0.03622, 0.62447), 2: (0.11762, 0.76928), 3: (0.23072, 0.88238), 4: (0.37553, 0.96378)}


def rows(**cell):
    # the CSV's success column as the pipeline writes it: MSE below success_mse, attack not diverged
    return [{**CELL, "attack_index": i, "position": 0, "image_index": i, "status": status, "mse": mse,
             "lpips": lpips, "success": mse < 1e-3 and status != "diverged", **cell}
            for i, (_, mse, lpips, status) in enumerate(IMAGES)]


def table():
    import pandas as pd

    return pd.DataFrame(rows())


@pytest.mark.parametrize("threshold, recovered", [(1e-3, 1), (2e-3, 2), (1e-2, 3), (0.1, 4), (1.0, 4)])
def test_pixel_exact_rate_counts_mse_strictly_below_and_never_a_diverged_attack(threshold, recovered):
    (row,) = dlg_threshold.rate_curve(table(), tiers.PIXEL_EXACT, [threshold]).to_dict("records")
    assert (row["recovered"], row["images"], row["rate"]) == (recovered, 5, pytest.approx(recovered / 5))
    assert (row["low"], row["high"]) == pytest.approx(WILSON[recovered], abs=1e-5)


@pytest.mark.parametrize("threshold, recovered", [(0.1, 1), (0.2, 2), (0.29, 2), (0.6, 4)])
def test_recognisable_rate_counts_lpips_at_most_and_never_a_diverged_attack(threshold, recovered):
    (row,) = dlg_threshold.rate_curve(table(), tiers.RECOGNISABLE, [threshold]).to_dict("records")
    assert (row["recovered"], row["images"]) == (recovered, 5)
    assert (row["low"], row["high"]) == pytest.approx(WILSON[recovered], abs=1e-5)


def test_the_rate_at_the_claims_threshold_is_the_tables_rate():
    """At the run's success_mse and the claims file's bound the curve reads what every table counts."""
    frame = table()
    exact = dlg_threshold.rate_curve(frame, tiers.PIXEL_EXACT, [1e-3]).recovered.item()
    near = dlg_threshold.rate_curve(frame, tiers.RECOGNISABLE, [tiers.recognisable_lpips()]).recovered.item()
    assert exact == int(frame.success.sum()) == 1
    assert near == int(tiers.recovered(frame, tiers.RECOGNISABLE).sum()) == 2
    curve = dlg_threshold.rate_curve(frame, tiers.PIXEL_EXACT, [1e-3, 2e-3, 1e-2, 0.1])
    assert dlg_threshold.crossing(curve, 0.5) == 1e-2  # 3/5 is the first rate above one half
    assert dlg_threshold.crossing(curve, 0.4) == 1e-2  # above 2/5, not at it
    assert dlg_threshold.crossing(curve, 0.8) is None  # 4/5 at most: D's attack diverged


def test_every_step_is_drawn_where_it_is(tmp_path, monkeypatch):
    """The curve is evaluated at each image's own value and the marks, and drawn as steps that change just
    after a value for MSE (strictly below) and at it for LPIPS (at most)."""
    captured = capture(monkeypatch, dlg_threshold)
    dlg_threshold.render([write_csv(tmp_path / "dlg.csv", rows())], tmp_path / "t.png", {})
    mse_ax, lpips_ax = captured.fig.axes
    (mse_line,) = [line for line in mse_ax.lines if line.get_label().startswith("lenet")]
    (lpips_line,) = [line for line in lpips_ax.lines if line.get_label().startswith("lenet")]
    assert mse_line.get_drawstyle() == "steps-pre" and lpips_line.get_drawstyle() == "steps-post"
    for line, values in ((mse_line, [5e-4, 1e-3, 3e-3, 5e-2]), (lpips_line, [0.05, 0.2, 0.3, 0.5])):
        x, y = line.get_xdata(), line.get_ydata()
        for value in values:
            assert np.isclose(x, value).any(), value
    x, y = np.asarray(mse_line.get_xdata()), np.asarray(mse_line.get_ydata())
    assert y[np.isclose(x, 1e-3)].item() == pytest.approx(0.2) and y[np.isclose(x, 3e-3)].item() == pytest.approx(0.4)
    assert y[-1] == pytest.approx(0.8) and x[0] == pytest.approx(1e-4) and x[-1] == pytest.approx(0.1)
    x, y = np.asarray(lpips_line.get_xdata()), np.asarray(lpips_line.get_ydata())
    assert y[np.isclose(x, 0.2)].item() == pytest.approx(0.4) and y[-1] == pytest.approx(0.8)
    assert mse_ax.get_xscale() == "log" and lpips_ax.get_xscale() == "linear"


def test_the_claims_thresholds_are_marked(tmp_path, monkeypatch):
    captured = capture(monkeypatch, dlg_threshold)
    dlg_threshold.render([write_csv(tmp_path / "dlg.csv", rows(success_mse=2e-3))], tmp_path / "t.png", {})
    mse_ax, lpips_ax = captured.fig.axes
    marks = {ax: [line.get_xdata()[0] for line in ax.lines if "success_mse" in line.get_label()
                  or "recognisable bound" in line.get_label()] for ax in (mse_ax, lpips_ax)}
    assert marks[mse_ax] == [2e-3]  # the run's own threshold, read off the CSV
    assert marks[lpips_ax] == [tiers.recognisable_lpips()] == [0.2]


def test_several_csvs_draw_each_ones_cells_named_by_its_folder(tmp_path, monkeypatch):
    (tmp_path / "lenet_run").mkdir(), (tmp_path / "resnet_run").mkdir()
    first = write_csv(tmp_path / "lenet_run" / "dlg.csv", rows() + rows(iterations=100))
    second = write_csv(tmp_path / "resnet_run" / "dlg.csv", rows(model="resnet18_sigmoid", batch_size=8))
    captured = capture(monkeypatch, dlg_threshold)
    dlg_threshold.render([first, second], tmp_path / "t.png", {})
    labels = [line.get_label() for line in captured.fig.axes[0].lines if "run:" in line.get_label()]
    assert labels == ["lenet_run: lenet, batch 1, dlg (strong_wolfe, joint), 100 steps (5 images)",
                      "lenet_run: lenet, batch 1, dlg (strong_wolfe, joint), 300 steps (5 images)",
                      "resnet_run: resnet18_sigmoid, batch 8, dlg (strong_wolfe, joint), 300 steps (5 images)"]
    assert dlg_threshold.cell_label(CELL, 1, None) == "lenet, batch 1, dlg (strong_wolfe, joint), 300 steps (1 image)"


def test_a_run_without_lpips_draws_the_pixel_exact_panel_and_says_so(tmp_path, monkeypatch):
    captured = capture(monkeypatch, dlg_threshold)
    plain = [{k: v for k, v in row.items() if k != "lpips"} for row in rows()]
    dlg_threshold.render([write_csv(tmp_path / "dlg.csv", plain)], tmp_path / "t.png", {})
    mse_ax, lpips_ax = captured.fig.axes
    assert any(line.get_label().startswith("lenet") for line in mse_ax.lines)
    assert not any(line.get_label().startswith("lenet") for line in lpips_ax.lines)
    assert "no LPIPS in the CSV" in lpips_ax.texts[0].get_text()


def test_a_csv_without_any_error_measure_is_refused(tmp_path):
    blank = [{**row, "mse": float("nan")} for row in rows()]
    blank = [{k: v for k, v in row.items() if k != "lpips"} for row in blank]
    with pytest.raises(UserError, match="has no image with an MSE or LPIPS"):
        dlg_threshold.render([write_csv(tmp_path / "dlg.csv", blank)], tmp_path / "t.png", {})
    assert not (tmp_path / "t.png").exists()


@pytest.mark.parametrize("options", [{"mse_range": [0, 0.1]}, {"mse_range": "wide"}, {"lpips_range": [0.5, 0.1]},
                                     {"lpips_range": [0, 0.3, 0.6]}])
def test_a_bad_range_is_one_line_naming_the_option(tmp_path, options):
    with pytest.raises(UserError, match=f"option '{next(iter(options))}' must be"):
        dlg_threshold.render([write_csv(tmp_path / "dlg.csv", rows())], tmp_path / "t.png", options)
    assert not (tmp_path / "t.png").exists()


def test_registered_for_every_dlg_config_and_drawn_by_the_cli(tmp_path):
    from sharegrad.cli import main

    spec = FIGURES.get("dlg_threshold").figure_spec
    assert spec.section == "dlg" and spec.input_files({}) == ["dlg.csv"] and not spec.table
    assert spec.outputs({"name": "x", "dlg": {}}) == {"dlg_threshold": {"config": "x"}}
    out = tmp_path / "figures" / "dlg_threshold.png"
    assert main(["figure", "dlg_threshold", "--csv", write_csv(tmp_path / "dlg.csv", rows()), "--out", str(out)]) == 0
    assert out.stat().st_size > 0
