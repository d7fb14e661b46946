"""The image stage's scoring at its edges (sharegrad.stages.dlg_images.score), and what the tables
make of it: a diverged attack whose last image happens to be close, a batch whose reconstructions
come back in another order (labels and per-image rows must follow the optimal matching), and an
exact copy (infinite PSNR) inside a median."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from sharegrad.attacks import AttackResult, Target
from sharegrad.stages.dlg_images import ImageAttackSpec, ImageObserver, ImageProblem, score


def problem(truth: torch.Tensor, labels: torch.Tensor, success_mse: float = 1e-3) -> ImageProblem:
    spec = ImageAttackSpec(batch_size=len(truth), success_mse=success_mse)
    target = Target(shared_gradients=[], input_shape=tuple(truth.shape), num_classes=10)
    return ImageProblem(spec, attack_index=2, seed=2, indices=[2 * len(truth) + i for i in range(len(truth))],
                        truth=truth, labels=labels, num_classes=10, model=torch.nn.Identity(), target=target,
                        observer=ImageObserver(truth, success_mse), device=torch.device("cpu"))


def images(n: int, seed: int = 0) -> torch.Tensor:
    return torch.rand((n, 3, 8, 8), generator=torch.Generator().manual_seed(seed))


def test_a_diverged_attack_whose_last_image_is_exact_is_no_success():
    truth = images(1)
    result = AttackResult(reconstruction=truth.clone(), labels=torch.tensor([3]), loss_curve=[1.0, math.inf],
                          snapshots={0: truth.clone()}, status="diverged", diverged_at=2, steps=2, evaluations=5)
    record, _ = score(problem(truth, torch.tensor([3])), result, wall=1.0)
    (row,) = record["images"]
    assert row["mse"] == 0.0 and row["label_correct"]
    assert row["success"] is False
    assert record["status"] == "diverged"
    finished = AttackResult(reconstruction=truth.clone(), labels=torch.tensor([3]), loss_curve=[1.0, 0.0],
                            snapshots={0: truth.clone()}, steps=2, evaluations=5)
    assert score(problem(truth, torch.tensor([3])), finished, wall=1.0)[0]["images"][0]["success"] is True


def test_a_diverged_attack_is_not_recognisable_either():
    """Under either tier (sharegrad.claims.tiers) a diverged attack recovers nothing, even with LPIPS 0 and
    a success flag set."""
    from sharegrad.claims import tiers

    group = pd.DataFrame({"lpips": [0.0, 0.05, 0.5], "success": [True, True, False],
                          "status": ["diverged", "finished", "finished"]})
    assert tiers.recovered(group, tiers.RECOGNISABLE, 0.2).tolist() == [False, True, False]
    assert tiers.recovered(group, tiers.PIXEL_EXACT).tolist() == [False, True, False]
    assert tiers.classify(group).tolist()[0] == "diverged"


def test_batch_rows_follow_the_optimal_matching():
    """The attack returns the batch reversed, each with its own label: after matching, every position's
    row has its own image's MSE (0), label and index; without the matching labels and MSEs would cross."""
    truth = images(3)
    labels = torch.tensor([4, 7, 1])
    reversed_order = torch.tensor([2, 1, 0])
    result = AttackResult(reconstruction=truth[reversed_order].clone(), labels=labels[reversed_order],
                          loss_curve=[1.0, 0.0], snapshots={1: truth[reversed_order].clone()}, steps=1, evaluations=1)
    record, arrays = score(problem(truth, labels), result, wall=1.0)
    rows = record["images"]
    assert [r["position"] for r in rows] == [0, 1, 2]
    assert [r["image_index"] for r in rows] == [6, 7, 8]  # attack 2 of batch 3
    assert [r["true_label"] for r in rows] == [4, 7, 1]
    assert [r["recovered_label"] for r in rows] == [4, 7, 1]
    assert all(r["label_correct"] and r["mse"] == 0.0 and r["success"] for r in rows)
    assert np.array_equal(arrays["final"], truth.numpy())  # the arrays in the truth's order too
    assert np.array_equal(arrays["snapshots"][0], truth.numpy())
    assert record["label_multiset_overlap"] == 1.0


def test_label_multiset_overlap_is_order_free_but_per_position_labels_are_not():
    """Labels 4, 7, 7 recovered as 7, 4, 4 on images matched in place: per position none is correct
    (0 gets 7, 1 and 2 get 4); as a multiset, 4 and one 7 of 4, 7, 7: 2 of 3."""
    truth = images(3)
    labels = torch.tensor([4, 7, 7])
    result = AttackResult(reconstruction=truth.clone(), labels=torch.tensor([7, 4, 4]), loss_curve=[0.0],
                          snapshots={1: truth.clone()}, steps=1, evaluations=1)
    record, _ = score(problem(truth, labels), result, wall=1.0)
    assert [r["label_correct"] for r in record["images"]] == [False, False, False]
    assert record["label_multiset_overlap"] == 2 / 3


def test_an_exact_copy_counts_in_a_median_as_the_best_psnr_not_dropped():
    """PSNR of an exact copy is infinite (the record writes "inf"); in the summary's median it counts as
    the best value (shown as 99 dB), never dropped: of inf, inf, 20 the median is the cap, not 20."""
    from sharegrad.metrics.image import psnr
    from sharegrad.report.dlg_summary import _median

    truth = images(1)
    assert math.isinf(float(psnr(truth, truth)[0]))
    assert float(psnr(truth + 0.01, truth)[0]) == pytest.approx(40.0, abs=1e-4)  # MSE 1e-4, data range 1
    assert _median(pd.Series(["inf", "inf", 20.0]), ".1f") == "99.0"
    assert _median(pd.Series(["inf", 30.0, 20.0]), ".1f") == "30.0"


class RecordingBar:
    """Stands in for tqdm: keeps every update and the postfix shown with it."""

    made: list = []

    def __init__(self, total=None, **kwargs):
        self.total, self.n, self.updates, self.postfix = total, 0, [], {}
        RecordingBar.made.append(self)

    def update(self, n=1):
        self.n += n
        self.updates.append((n, dict(self.postfix)))

    def set_postfix(self, shown=None, refresh=True, **kwargs):
        self.postfix = {**(shown or {}), **kwargs}

    def set_description(self, *args, **kwargs):
        pass

    def close(self):
        pass


@pytest.mark.parametrize("engine", ["sequential", "batched"])
def test_the_progress_bar_moves_per_outer_step_with_the_gradient_loss(tmp_path, monkeypatch, embedded_root, engine):
    """Two attacks of 3 outer steps: one bar for the chunk, 6 steps, each update one step with the current
    gradient-match loss (a bar of attacks would sit at 0/2 through the first attack)."""
    from sharegrad.engine import dlg as engine_dlg
    from sharegrad.stages import dlg_images

    RecordingBar.made = []
    monkeypatch.setattr(dlg_images, "tqdm", RecordingBar)
    monkeypatch.setattr(engine_dlg, "tqdm", RecordingBar)
    spec = ImageAttackSpec(attack_config={"iterations": 3, "line_search": "strong_wolfe"}, data_root=str(embedded_root))
    dlg_images.run_chunk(spec, [0, 1], tmp_path / "out", device="cpu", engine=engine)
    (bar,) = RecordingBar.made
    assert bar.total == 6 and bar.n == 6
    assert [n for n, _ in bar.updates] == [1] * 6
    losses = [float(shown["loss"]) for _, shown in bar.updates[1:]]
    assert len(losses) == 5 and all(math.isfinite(v) and v >= 0 for v in losses)
