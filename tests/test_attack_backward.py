"""The attacks' backward pass runs into their own variables only.

A bare ``distance.backward()`` (the DLG repository's) also runs the second-order backward into every
model parameter and accumulates it in ``.grad``: work that nothing reads, and most of an evaluation
of the big models. ``backward(inputs=variables)`` skips it. Both tests would fail if the restriction
were dropped (parameters get a ``.grad``) or if it changed a number (the runs with the full backward,
forced below, differ from the restricted ones)."""

import pytest
import torch

from sharegrad.attacks import Target, run_attack
from sharegrad.attacks.base import victim_gradients
from sharegrad.attacks.text_dlg import victim_text_gradients
from sharegrad.data.text import Sentence, encode
from sharegrad.models import build_model
from sharegrad.models.bert import load_tokenizer


@pytest.fixture
def full_backward(monkeypatch):
    """Tensor.backward with its ``inputs`` ignored: the published, unrestricted backward."""
    original = torch.Tensor.backward

    def unrestricted(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        return original(self, gradient, retain_graph, create_graph)

    def use():
        monkeypatch.setattr(torch.Tensor, "backward", unrestricted)
    return use


def image_run(embedded, attack: str, config: dict):
    truth, label = embedded.tensor([3, 7]) if config.get("labels") == "multiset" else embedded.tensor([3])
    model = build_model("lenet", num_classes=100, seed=3)
    target = Target(victim_gradients(model, truth, label, 100), tuple(truth.shape), 100)
    result = run_attack(attack, model, target, config, seed=3)
    return model, result


IMAGE_CASES = [
    ("dlg", {"iterations": 4, "line_search": "strong_wolfe"}),
    ("dlg", {"iterations": 4, "line_search": "none", "labels": "multiset"}),
    ("inverting_gradients", {"iterations": 6}),
]


@pytest.mark.parametrize("attack,config", IMAGE_CASES, ids=["dlg-wolfe", "dlg-multiset", "inverting"])
def test_image_attacks_same_numbers_and_no_parameter_gradients(embedded, full_backward, attack, config):
    model, restricted = image_run(embedded, attack, config)
    assert all(p.grad is None for p in model.parameters()), "the attack accumulated gradients in the model"
    full_backward()
    model, published = image_run(embedded, attack, config)
    assert any(p.grad is not None for p in model.parameters())  # the forced full backward did reach them
    assert restricted.loss_curve == published.loss_curve
    assert torch.equal(restricted.reconstruction, published.reconstruction)


@pytest.mark.parametrize("attack", ["text_dlg", "text_dlg_tokenset"])
def test_text_attacks_same_numbers_and_no_parameter_gradients(full_backward, attack):
    tokenizer = load_tokenizer("offline")
    ids, types = encode(tokenizer, Sentence("zen", "test", "Errors should never pass silently."), 30)

    def run():
        model = build_model("bert_tiny_random", num_classes=30522, seed=0)
        target = Target(victim_text_gradients(model, ids, types), tuple(ids.shape), 30522, token_type_ids=types)
        return model, run_attack(attack, model, target, {"iterations": 2, "max_iter": 3}, seed=1)

    model, restricted = run()
    assert all(p.grad is None for p in model.parameters())
    full_backward()
    model, published = run()
    assert any(p.grad is not None for p in model.parameters())
    assert restricted.loss_curve == published.loss_curve
    assert torch.equal(restricted.reconstruction, published.reconstruction)


def plain_distance(dummy, shared):
    return sum(((d - s) ** 2).sum() for d, s in zip(dummy, shared))


def test_fused_distance_value_and_gradients_equal_the_plain_form(float64):
    """Through the whole second-order path (the gradient of the distance of the model's gradients,
    with respect to the dummy input), in float64, the fused distance equals the published one."""
    from sharegrad.attacks.base import parameter_gradients, squared_gradient_distance

    torch.manual_seed(0)
    model = build_model("lenet", num_classes=10, seed=0).double()
    x = torch.rand(2, 3, 32, 32, dtype=torch.float64)
    shared = [g.detach() for g in parameter_gradients(model, x, torch.eye(10, dtype=torch.float64)[[1, 4]])]
    results = []
    for distance in (plain_distance, squared_gradient_distance):
        dummy = torch.rand(2, 3, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        dummy.requires_grad_(True)
        label = torch.randn(2, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
        label.requires_grad_(True)
        value = distance(parameter_gradients(model, dummy, torch.softmax(label, -1), create_graph=True), shared)
        value.backward(inputs=[dummy, label])
        results.append((float(value.detach()), dummy.grad, label.grad))
    (plain_value, plain_dx, plain_dy), (fused_value, fused_dx, fused_dy) = results
    assert fused_value == pytest.approx(plain_value, rel=1e-12)
    assert torch.allclose(fused_dx, plain_dx, rtol=1e-10, atol=0)
    assert torch.allclose(fused_dy, plain_dy, rtol=1e-10, atol=1e-300)
    assert float(plain_dx.abs().max()) > 0


def test_fused_distance_refuses_unmatched_lists():
    from sharegrad.attacks.base import squared_gradient_distance

    with pytest.raises(ValueError, match="2 dummy gradients against 1"):
        squared_gradient_distance([torch.ones(2), torch.ones(2)], [torch.ones(2)])
