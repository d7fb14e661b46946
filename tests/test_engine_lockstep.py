"""The lock-step L-BFGS (engine/lockstep.py): K attacks' torch.optim.LBFGS steps as one update.

Its history against torch's two-loop recursion (float64, several attacks at
different fill levels, through the ring's wrap-around); its control flow
against torch.optim.LBFGS itself, on objectives where L-BFGS is not chaotic
(so a trajectory can be compared over many steps, through every way a step
ends: max_iter, the gradient tolerance, a flat loss, a tiny move); on DLG
against the coroutine engine; and a diverging attack's isolation.
"""

import math

import pytest
import torch

from sharegrad.engine.dlg import run_dlg_batched
from sharegrad.engine.history import ListHistory
from sharegrad.engine.lbfgs import LBFGSSettings
from sharegrad.engine.lockstep import LockstepHistory, lockstep_lbfgs
from sharegrad.attacks import Target
from sharegrad.errors import UserError

from test_batched_engine import CLASSES, small_attacks


@pytest.mark.parametrize("group,batched", [(1, False), (3, False), (None, False), (3, True)])
def test_lockstep_history_gives_each_attack_its_two_loop_direction(float64, group, batched):
    """Pairs made as L-BFGS makes them (s = t d_prev, y = g - g_prev, on a quadratic so that
    s . y > 0); attacks push on different iterations, skip some (no direction asked) or are
    rejected (direction, no pair), so their rings fill and wrap at different times; one has
    gradients much larger than its y, which takes the direct product. Every direction equals
    torch's two-loop on that attack's own pairs."""
    g = torch.Generator().manual_seed(5)
    attacks, numel, size = 5, 30, 5
    basis = torch.randn(numel, numel, generator=g)
    hessian = basis @ basis.T / numel + 0.5 * torch.eye(numel)
    lists = [ListHistory(size) for _ in range(attacks)]
    store = LockstepHistory(attacks, size, numel, "cpu", torch.float64, group=group, batched_products=batched)
    offset = torch.zeros(attacks, numel)
    offset[4] = 1e3  # |g| >> |y|
    previous = torch.randn(attacks, numel, generator=g) + offset
    d = -previous.clone()  # the first iteration's direction, not from the history
    gamma = torch.ones(attacks)
    for step in range(16):
        ask = torch.tensor([True, True, step % 3 != 0, True, True])
        t = torch.rand(attacks, generator=g) + 0.5
        t[4] = 1e-4  # short steps from a large gradient: |y| << |g|
        s = d * t[:, None]
        grads = previous + s @ hessian  # y = H s
        y = grads - previous
        ys, yy = torch.linalg.vecdot(y, s), torch.linalg.vecdot(y, y)
        push = ask & torch.tensor([step % 4 != 3, step % 2 == 0, True, step != 0, True])
        for k in range(attacks):
            if push[k]:
                lists[k].push(y[k], s[k], 1.0 / ys[k])
        gamma = torch.where(push, ys / yy, gamma)
        directions = store.directions(ask, grads, gamma, push, s, y, ys, yy)
        for k in range(attacks):
            if ask[k]:
                expected = lists[k].direction(grads[k], gamma[k])
                assert torch.allclose(directions[k], expected, rtol=1e-9, atol=1e-9 * float(expected.abs().max()))
                d[k], previous[k] = directions[k], grads[k]
    assert int(store.pushed[0]) > size and int(store.pushed[3]) > size  # wrapped
    assert store.direct_products >= 10  # attack 4 (every push) took the direct product


def quadratic(matrices: torch.Tensor, centres: torch.Tensor):
    """K convex quadratics 0.5 (x - c)^T A (x - c) + sum(cos(x)) / 10 (mildly non-quadratic)."""
    def evaluate(attacks, points):
        a, c = matrices[attacks], centres[attacks]
        diff = points - c
        ax = torch.einsum("kij,kj->ki", a, diff)
        loss = 0.5 * (diff * ax).sum(1) + points.cos().sum(1) / 10
        return loss, ax - points.sin() / 10
    return evaluate


def torch_lbfgs(evaluate, attack: int, start: torch.Tensor, settings: LBFGSSettings, steps: int):
    x = start.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([x], lr=settings.lr, max_iter=settings.max_iter,
                                  tolerance_grad=settings.tolerance_grad, tolerance_change=settings.tolerance_change,
                                  history_size=settings.history_size)
    calls = []

    def closure():
        loss, grad = evaluate([attack], x.detach()[None])
        x.grad = grad[0].clone()
        calls.append(1)
        return loss[0]

    losses = [float(optimizer.step(closure)) for _ in range(steps)]
    return losses, x.detach(), len(calls)


@pytest.mark.parametrize("max_iter,tolerance_change", [(5, 1e-9), (20, 1e-9), (7, 1e-3)])
def test_lockstep_follows_torch_lbfgs_step_by_step(float64, max_iter, tolerance_change):
    g = torch.Generator().manual_seed(11)
    attacks, numel = 5, 12
    basis = torch.randn(attacks, numel, numel, generator=g)
    matrices = basis @ basis.transpose(1, 2) / numel + 0.1 * torch.eye(numel)
    centres = torch.randn(attacks, numel, generator=g)
    evaluate = quadratic(matrices, centres)
    settings = LBFGSSettings(max_iter=max_iter, history_size=4, tolerance_change=tolerance_change)
    start = torch.randn(attacks, numel, generator=g) * 3
    steps = 12
    curves = {k: [] for k in range(attacks)}

    def step_end(ended, losses):
        for k, loss in zip(ended, losses):
            curves[k].append(loss)
        return [k for k in ended if len(curves[k]) == steps]

    x = start.clone()
    counts = lockstep_lbfgs(evaluate, x, settings, step_end)
    for k in range(attacks):
        losses, final, calls = torch_lbfgs(evaluate, k, start[k], settings, steps)
        assert curves[k] == pytest.approx(losses, rel=1e-9, abs=1e-12)
        assert torch.allclose(x[k], final, rtol=1e-8, atol=1e-10)
        assert int(counts[k]) == calls
    # the runs must reach the steps that end early (converged: 1 evaluation per step)
    assert min(int(c) for c in counts) < steps * max_iter


def test_lockstep_dlg_equals_the_coroutine_engine(embedded, float64):
    """Same objective, same L-BFGS: the two drivers differ only in rounding (float64)."""
    models, targets, _, seeds = small_attacks(embedded, 6)
    config = {"iterations": 4, "line_search": "none"}
    lock = run_dlg_batched(models, targets, config, seeds, progress=False)
    coroutine = run_dlg_batched(models, targets, config, seeds, progress=False, lockstep=False)
    for a, b in zip(lock, coroutine):
        assert a.status == b.status and a.evaluations == b.evaluations and a.steps == b.steps
        assert a.loss_curve == pytest.approx(b.loss_curve, rel=1e-6)
        assert torch.allclose(a.reconstruction, b.reconstruction, rtol=1e-5, atol=1e-7)


def test_a_diverging_attack_leaves_the_others_identical_in_lockstep(embedded):
    models, targets, _, seeds = small_attacks(embedded, 6)
    config = {"iterations": 4, "line_search": "none"}
    plain = run_dlg_batched(models, targets, config, seeds, progress=False, history_group=4)
    broken = list(targets)
    broken[2] = Target([g * float("nan") for g in targets[2].shared_gradients], targets[2].input_shape, CLASSES)
    forced = run_dlg_batched(models, broken, config, seeds, progress=False, history_group=4)
    assert forced[2].status == "diverged" and forced[2].diverged_at == 1 and plain[2].status == "finished"
    for k in (0, 1, 3, 4, 5):
        assert forced[k].loss_curve == plain[k].loss_curve
        assert forced[k].evaluations == plain[k].evaluations
        assert torch.equal(forced[k].reconstruction, plain[k].reconstruction)
    assert all(math.isfinite(v) for k in (0, 1, 3, 4, 5) for v in forced[k].loss_curve)


def test_lockstep_is_refused_with_a_line_search(embedded):
    models, targets, _, seeds = small_attacks(embedded, 2)
    with pytest.raises(UserError, match="without line search"):
        run_dlg_batched(models[:2], targets[:2], {"iterations": 1, "line_search": "strong_wolfe"}, seeds[:2],
                        progress=False, lockstep=True)
