"""The image stage end to end at batch size 4 with a defense, every scored number recomputed by hand.

One `sharegrad dlg` run (LeNet, fp16 defense, 10 strong-Wolfe steps, a snapshot every step) and,
from its own files, by hand in the test: the shared gradients after the defense (through the first
gradient-match loss), the optimal matching of reconstructions to images (all 24 orders tried),
per-image MSE, the `success` flag and `first_success_step`. The threshold sits inside the range the
images cross in 10 steps, so flags and steps differ between images.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sharegrad.cli import main

BATCH, STEPS, THRESHOLD = 4, 10, 0.25


@pytest.fixture(scope="module")
def run(embedded_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("stage")
    torch.set_num_threads(1)
    config = {"iterations": STEPS, "snapshot_every": 1, "line_search": "strong_wolfe"}
    assert main(["dlg", "--data-root", str(embedded_root), "--model", "lenet", "--batch-size", str(BATCH),
                 "--attack-config", json.dumps(config), "--defense", "fp16", "--success-mse", str(THRESHOLD),
                 "--indices", "0", "--out-dir", str(out), "--device", "cpu"]) == 0
    record = json.loads((out / "attack~0.json").read_text())
    with np.load(out / "attack~0.npz") as arrays:
        return record, {k: arrays[k] for k in arrays.files}


def per_image_mse(images: np.ndarray, truth: np.ndarray) -> np.ndarray:
    return ((images.astype(np.float64) - truth) ** 2).reshape(len(truth), -1).mean(axis=1)


def best_order(images: np.ndarray, truth: np.ndarray) -> tuple[int, ...]:
    """The assignment of reconstructions to true images with the least total MSE, by trying all."""
    return min(itertools.permutations(range(len(truth))),
               key=lambda order: per_image_mse(images[list(order)], truth).sum())


def test_shared_gradients_are_the_defended_ones(run, embedded_root):
    """The first gradient-match loss, recomputed from the seeded victim and the seeded dummy,
    equals the record's against fp16-rounded gradients and not against the raw ones."""
    from sharegrad.data import load_image_set
    from sharegrad.models import build_model
    from sharegrad.seeding import generator

    record, _ = run
    images = load_image_set("embedded", "train", embedded_root)
    truth, labels = images.tensor(list(range(BATCH)))
    model = build_model("lenet", num_classes=images.num_classes, seed=0)
    params = [p for p in model.parameters() if p.requires_grad]

    def grads(inputs, soft, create_graph=False):
        loss = torch.mean(torch.sum(-soft * F.log_softmax(model(inputs), dim=-1), dim=-1))
        return torch.autograd.grad(loss, params, create_graph=create_graph)

    raw = [g.detach() for g in grads(truth, F.one_hot(labels, images.num_classes).float())]
    defended = [g.half().float() for g in raw]  # fp16: what travels is the gradient rounded to half precision
    g = generator(0, "attack:dlg:init", torch.device("cpu"))
    dummy = torch.randn(truth.shape, generator=g)
    dummy_label = torch.randn((BATCH, images.num_classes), generator=g)
    dummy_grads = grads(dummy, F.softmax(dummy_label, dim=-1))
    loss_defended = float(sum(((d - s) ** 2).sum() for d, s in zip(dummy_grads, defended)))
    loss_raw = float(sum(((d - s) ** 2).sum() for d, s in zip(dummy_grads, raw)))
    assert abs(loss_defended - loss_raw) > 1e-6 * loss_raw  # the check below can tell the two apart
    assert record["loss_curve"][0] == pytest.approx(loss_defended, rel=1e-6)
    assert record["parameters"]["defense"] == "fp16"


def test_matching_mse_and_success_by_hand(run):
    record, arrays = run
    truth, final = arrays["truth"], arrays["final"]
    # the published reconstructions are in the optimal order: no other order has a smaller total MSE
    assert best_order(final, truth) == tuple(range(BATCH))
    by_hand = per_image_mse(final, truth)
    finished = record["status"] == "finished"
    for i, image in enumerate(record["images"]):
        assert image["position"] == i and image["image_index"] == i
        assert image["mse"] == pytest.approx(by_hand[i], rel=1e-5)
        assert image["success"] == bool(by_hand[i] < THRESHOLD and finished)
    flags = [image["success"] for image in record["images"]]
    assert any(flags) and not all(flags), "the threshold should split the batch"


def test_first_success_step_by_hand(run):
    """Per step, the snapshot matched to the truth on its own; an image's first success is the
    first step at which its matched MSE fell below the threshold."""
    record, arrays = run
    truth, steps, snapshots = arrays["truth"], arrays["snapshot_steps"], arrays["snapshots"]
    assert list(steps) == list(range(STEPS + 1))
    first = [None] * BATCH
    for step, snapshot in zip(steps, snapshots):
        order = best_order(snapshot, truth)
        for i, value in enumerate(per_image_mse(snapshot[list(order)], truth)):
            if first[i] is None and value < THRESHOLD:
                first[i] = int(step)
    assert [image["first_success_step"] for image in record["images"]] == first
    assert len(set(first)) > 1, "images should first succeed at different steps (or never)"
    # the mean matched MSE curve is the same per-step quantity averaged over the batch
    mean_curve = [per_image_mse(s[list(best_order(s, truth))], truth).mean() for s in snapshots]
    assert record["mse_curve"] == pytest.approx(mean_curve, rel=1e-5)
