"""The batched engine's shortcuts compute the same objective.

The factored Linear-layer distance (engine/evaluator.py) against autograd
through the materialised weight gradient, and the compact-form history with
its deferred Gram products (engine/history.py) against torch's two-loop
recursion, interleaved as L-BFGS uses them. Float64, so only the formula can
make them differ.
"""

import pytest
import torch
import torch.nn.functional as F

from sharegrad.attacks.base import victim_gradients
from sharegrad.engine.evaluator import GradientMatch, factored_head
from sharegrad.engine.history import CompactHistory, ListHistory
from sharegrad.models import build_model
from sharegrad.models.resnet import ResNet


def tiny_resnet(seed: int) -> ResNet:
    torch.manual_seed(seed)
    return ResNet([1], [4], [1], num_classes=5, activation="sigmoid", norm=False, post_activation=False,
                  init="uniform")


@pytest.mark.parametrize("family", ["lenet", "resnet"])
@pytest.mark.parametrize("joint", [True, False])
def test_factored_head_distance_equals_autograd_through_the_weight_gradient(float64, family, joint):
    count, batch, classes, side = 3, 2, 5, 8
    g = torch.Generator().manual_seed(0)
    if family == "lenet":
        models = [build_model("lenet", num_classes=classes, seed=i, image_size=side) for i in range(count)]
    else:
        models = [tiny_resnet(i) for i in range(count)]
    truth = torch.rand(count, batch, 3, side, side, generator=g)
    labels = torch.randint(0, classes, (count, batch), generator=g)
    shared = [victim_gradients(m, truth[i], labels[i], classes) for i, m in enumerate(models)]
    onehot = None if joint else F.one_hot(labels, classes).to(torch.get_default_dtype())
    make = lambda factor: GradientMatch(models, shared, (batch, 3, side, side), classes, joint, onehot,  # noqa: E731
                                        factor_head=factor)
    factored, plain = make(True), make(False)
    assert factored.head == "fc" and plain.head is None
    points = torch.randn(count, factored.numel, generator=g)
    for attacks in ([0, 1, 2], [2, 0]):
        loss_f, grad_f = factored(attacks, points[attacks])
        loss_p, grad_p = plain(attacks, points[attacks])
        assert torch.allclose(loss_f, loss_p, rtol=1e-10, atol=0)
        assert torch.allclose(grad_f, grad_p, rtol=1e-9, atol=1e-12)
    assert not torch.allclose(loss_f[0], loss_f[1])  # the rows are different attacks


def test_a_head_is_factored_only_when_the_model_declares_it():
    lenet = build_model("lenet", num_classes=5, seed=0, image_size=8)
    names = [n for n, _ in lenet.named_parameters()]
    assert factored_head(lenet, names) == "fc"
    assert factored_head(lenet, [n for n in names if n != "fc.weight"]) is None  # a frozen head stays autograd
    assert factored_head(torch.nn.Sequential(torch.nn.Linear(3, 2)), ["0.weight", "0.bias"]) is None


def test_compact_history_with_deferred_products_follows_the_two_loop_step_by_step(float64):
    """Push then direction, as L-BFGS does each iteration (the new pair's Gram entries come with
    the direction's products), through the ring's wrap-around; plus iterations with no push."""
    g = torch.Generator().manual_seed(3)
    numel, size = 30, 5
    exact, compact = ListHistory(size), CompactHistory(2, size, numel, "cpu", torch.float64)
    slot = compact.slot(1)
    for step in range(13):
        if step % 4 != 3:  # every fourth iteration the pair is rejected (no positive curvature)
            s = torch.randn(numel, generator=g)
            y = s * (1 + torch.rand(numel, generator=g))
            exact.push(y, s, 1.0 / y.dot(s))
            slot.push(y, s, 1.0 / y.dot(s))
        grad, gamma = torch.randn(numel, generator=g), torch.rand((), generator=g) + 0.5
        assert torch.allclose(slot.direction(grad, gamma), exact.direction(grad, gamma), rtol=1e-10, atol=1e-12)
    assert compact.pushed[0] == 0 and not compact.s[0].any() and not compact.y[0].any()  # the other attack's store untouched


def test_compiled_evaluation_equals_eager_for_any_subset_of_attacks():
    """torch.compile keeps one shape (all K rows, the others at their latest point): the asked rows
    must not depend on that, nor on a diverged attack's non-finite point."""
    count, classes, side = 3, 5, 8
    models = [build_model("lenet", num_classes=classes, seed=i, image_size=side) for i in range(count)]
    g = torch.Generator().manual_seed(0)
    truth = torch.rand(count, 1, 3, side, side, generator=g)
    labels = torch.randint(0, classes, (count, 1), generator=g)
    shared = [victim_gradients(m, truth[i], labels[i], classes) for i, m in enumerate(models)]
    eager = GradientMatch(models, shared, (1, 3, side, side), classes, True)
    compiled = GradientMatch(models, shared, (1, 3, side, side), classes, True, compile=True)
    points = torch.randn(count, eager.numel, generator=g)
    for attacks in ([0, 1, 2], [2, 0], [1, 1]):
        loss_e, grad_e = eager(attacks, points[attacks])
        loss_c, grad_c = compiled(attacks, points[attacks])
        assert torch.allclose(loss_c, loss_e, rtol=1e-4) and torch.allclose(grad_c, grad_e, rtol=1e-3, atol=1e-6)
    compiled([1], torch.full((1, eager.numel), float("nan")))  # attack 1 diverges and stops asking
    loss_c, _ = compiled([0, 2], points[[0, 2]])
    assert torch.allclose(loss_c, eager([0, 2], points[[0, 2]])[0], rtol=1e-4)
    assert compiled.compile_seconds > 0
