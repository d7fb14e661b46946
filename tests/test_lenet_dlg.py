import torch

from sharegrad.attacks import Target, run_attack
from sharegrad.attacks.base import victim_gradients
from sharegrad.metrics.image import mse, to_unit_range
from sharegrad.models import build_model


def test_lenet_is_the_dlg_repository_architecture():
    model = build_model("lenet", num_classes=100, seed=0)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding) for c in convs] == [
        (3, 12, (5, 5), (2, 2), (2, 2)), (12, 12, (5, 5), (2, 2), (2, 2)), (12, 12, (5, 5), (1, 1), (2, 2))]
    assert sum(isinstance(m, torch.nn.Sigmoid) for m in model.modules()) == 3
    assert model.fc.in_features == 768 and model.fc.out_features == 100
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 100)


def test_lenet_init_is_uniform_half_and_seeded():
    a = build_model("lenet", num_classes=100, seed=1)
    b = build_model("lenet", num_classes=100, seed=1)
    c = build_model("lenet", num_classes=100, seed=2)
    for p, q, r in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(p, q)
        assert float(p.abs().max()) <= 0.5
        assert not torch.equal(p, r)
    weights = torch.cat([p.flatten() for p in a.parameters()])
    # uniform(-0.5, 0.5): mean 0, variance 1/12
    assert abs(float(weights.mean())) < 0.01 and abs(float(weights.var()) - 1 / 12) < 0.003


def test_dlg_recovers_an_embedded_image(embedded):
    torch.manual_seed(0)
    truth, label = embedded.tensor([2])
    model = build_model("lenet", num_classes=100, seed=2)
    shared = victim_gradients(model, truth, label, 100)
    target = Target(shared_gradients=shared, input_shape=tuple(truth.shape), num_classes=100)
    result = run_attack("dlg", model, target, {"iterations": 100, "line_search": "strong_wolfe"}, seed=2)
    assert result.status == "finished"
    assert float(mse(to_unit_range(result.reconstruction), truth)) < 1e-3
    assert int(result.labels[0]) == int(label[0])
    # the loss recorded per outer step falls by orders of magnitude
    assert result.loss_curve[-1] < 1e-4 * result.loss_curve[0]


def test_dlg_same_seed_same_numbers(embedded):
    truth, label = embedded.tensor([5])
    curves = []
    for _ in range(2):
        model = build_model("lenet", num_classes=100, seed=5)
        shared = victim_gradients(model, truth, label, 100)
        target = Target(shared_gradients=shared, input_shape=tuple(truth.shape), num_classes=100)
        curves.append(run_attack("dlg", model, target, {"iterations": 3}, seed=5).loss_curve)
    assert curves[0] == curves[1]
