"""DLG on images at paper fidelity: models, label recovery, divergence, batches."""

import pytest
import torch

from sharegrad.attacks import Target, run_attack
from sharegrad.attacks.base import victim_gradients
from sharegrad.attacks.labels import idlg_label, multiset_labels
from sharegrad.metrics.image import mse, to_unit_range
from sharegrad.metrics.matching import match_by_mse
from sharegrad.models import MODELS, build_model

IMAGE_MODELS = ["lenet", "resnet18", "resnet18_sigmoid", "resnet18_sigmoid_bn", "resnet18_sigmoid_squashed",
                "resnet56_sigmoid"]


def shared_for(embedded, indices, model_name="lenet", seed=0):
    truth, labels = embedded.tensor(indices)
    model = build_model(model_name, num_classes=100, seed=seed)
    return model, truth, labels, victim_gradients(model, truth, labels, 100)


def test_every_image_model_is_registered():
    assert set(IMAGE_MODELS) <= set(MODELS.names())


@pytest.mark.parametrize("name", IMAGE_MODELS)
@pytest.mark.parametrize("batch", [1, 8])
def test_forward_and_double_backward_at_32x32(name, batch):
    model = build_model(name, num_classes=100, seed=0)
    x = torch.rand(batch, 3, 32, 32, requires_grad=True)
    soft = torch.softmax(torch.randn(batch, 100), dim=-1)
    grads = torch.autograd.grad(
        torch.mean(torch.sum(-soft * torch.log_softmax(model(x), -1), -1)), list(model.parameters()), create_graph=True)
    distance = sum((g ** 2).sum() for g in grads)
    (dx,) = torch.autograd.grad(distance, x)
    assert dx.shape == x.shape and torch.isfinite(dx).all()
    assert float(dx.abs().sum()) > 0, "the gradient-match loss must depend on the input"


def test_resnet_forms_differ_only_in_their_options():
    leaking = build_model("resnet18_sigmoid", 100, seed=0)
    standard = build_model("resnet18", 100, seed=0)
    assert leaking.options == {"activation": "sigmoid", "norm": False, "post_activation": False,
                               "strides": [1, 2, 2, 2], "init": "uniform"}
    assert standard.options["activation"] == "relu" and standard.options["norm"] is True
    paper = build_model("resnet56_sigmoid", 100, seed=0)
    assert paper.options["strides"] == [1, 1, 1] and len(paper.layers) == 27


def test_idlg_recovers_20_labels_at_batch_size_1(embedded):
    correct = 0
    for index in range(20):
        model, _, labels, shared = shared_for(embedded, [index], seed=index)
        correct += int(idlg_label(model, shared, 100)[0] == labels[0])
    assert correct == 20


def test_multiset_recovers_batch_of_8_labels_on_lenet(embedded):
    for batch in range(4):
        indices = list(range(8 * batch, 8 * batch + 8))
        model, truth, labels, shared = shared_for(embedded, indices, seed=batch)
        recovered = multiset_labels(model, shared, 100, tuple(truth.shape))
        assert sorted(recovered.tolist()) == sorted(labels.tolist())


def test_published_dlg_reproduces_an_embedded_image(embedded):
    # lr 1, history 100, max_iter 20, no line search: the original code's settings.
    model, truth, labels, shared = shared_for(embedded, [2], seed=2)
    target = Target(shared, tuple(truth.shape), 100)
    result = run_attack("dlg", model, target, {"iterations": 100, "line_search": "none"}, seed=2)
    assert result.status == "finished"
    assert float(mse(to_unit_range(result.reconstruction), truth)) < 1e-3


def test_forced_divergence_is_recorded_not_raised(embedded):
    model, truth, _, shared = shared_for(embedded, [0])
    poisoned = [g * float("inf") for g in shared]
    result = run_attack("dlg", model, Target(poisoned, tuple(truth.shape), 100), {"iterations": 5}, seed=0)
    assert result.status == "diverged" and result.diverged_at == 1


def test_diverged_attack_counts_as_failure_in_the_stage(embedded_root, tmp_path):
    from sharegrad.stages.dlg_images import ImageAttackSpec, run_chunk

    # An image bound of 1e-9 makes the first step "explode": the run must end, be
    # recorded as diverged with its step, and the chunk must go on to the next attack.
    spec = ImageAttackSpec(attack_config={"iterations": 3, "divergence_limit": 1e-9}, data_root=str(embedded_root))
    records = run_chunk(spec, [0, 1], tmp_path, device="cpu")
    assert [r["status"] for r in records] == ["diverged", "diverged"]
    assert all(r["diverged_at"] == 1 and not r["images"][0]["success"] for r in records)
    assert (tmp_path / "attack~1.json").exists()


def test_inverting_gradients_plugs_into_the_same_interface(embedded):
    model, truth, labels, shared = shared_for(embedded, [3], seed=3)
    result = run_attack("inverting_gradients", model, Target(shared, tuple(truth.shape), 100),
                        {"iterations": 60, "snapshot_every": 20}, seed=3)
    assert result.status == "finished"
    assert result.loss_curve[-1] < result.loss_curve[0]
    assert 0.0 <= float(result.reconstruction.min()) and float(result.reconstruction.max()) <= 1.0  # the box
    assert int(result.labels[0]) == int(labels[0])  # labels read off the gradients (iDLG)
    assert sorted(result.snapshots) == [0, 20, 40, 60]


def test_batch_of_8_is_scored_after_optimal_matching(embedded):
    truth, _ = embedded.tensor(list(range(8)))
    shuffled = truth[torch.tensor([3, 0, 7, 1, 6, 2, 5, 4])]
    order = match_by_mse(shuffled, truth)
    assert torch.equal(shuffled[order], truth)
