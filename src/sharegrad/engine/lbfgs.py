"""torch.optim.LBFGS's ``step`` for one attack, as a coroutine.

Same arithmetic as torch 2.x's LBFGS (lr, history, max_iter, max_eval,
tolerances, strong-Wolfe line search with cubic interpolation, and the same
mix of Python floats and 0-dim tensors, which decides the rounding), but
instead of calling a closure it yields a request and is sent the answer:

- ``Evaluate(point)`` -> ``(loss tensor, flat gradient)``;
- ``Direction(grad, h_diag)`` -> the two-loop direction, when the history
  lives in a shared batched store (``history.RingHistory``); with a
  ``ListHistory`` the direction is computed here, op for op as torch does.

So the scheduler can answer the requests of K attacks in one vectorised call
while each attack keeps its own history, step size, line search and
termination. Given the same evaluations, a ListHistory attack reproduces
torch.optim.LBFGS bit for bit (tests/test_batched_lbfgs.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class Evaluate:
    point: torch.Tensor  # flat variables at which to evaluate


@dataclass
class Direction:
    grad: torch.Tensor
    h_diag: Any  # 1 (int) before the first curvature pair, else a 0-dim tensor


@dataclass
class LBFGSSettings:
    lr: float = 1.0
    max_iter: int = 20
    max_eval: int | None = None  # torch's default: max_iter * 5 // 4
    tolerance_grad: float = 1e-7
    tolerance_change: float = 1e-9
    history_size: int = 100
    line_search: str | None = None  # None | "strong_wolfe"

    def __post_init__(self):
        if self.max_eval is None:
            self.max_eval = self.max_iter * 5 // 4
        if self.line_search not in (None, "strong_wolfe"):
            raise ValueError(f"line_search must be None or 'strong_wolfe', not {self.line_search!r}")


@dataclass
class LBFGSState:
    """What torch keeps in ``optimizer.state`` between steps, for one attack."""

    history: Any  # ListHistory | RingHistory slot
    sizes: list[int]  # numel of each variable, in order (updates are applied per variable, as torch does)
    n_iter: int = 0
    func_evals: int = 0
    d: Any = None
    t: Any = None
    h_diag: Any = None
    prev_flat_grad: Any = None
    prev_loss: Any = None
    extras: dict = field(default_factory=dict)


def add_step(x: torch.Tensor, step, direction: torch.Tensor, sizes: list[int]) -> None:
    """x += step * direction, one variable at a time: torch's per-parameter ``add_`` chunks the
    vectorised loop the same way, so the rounding is the same."""
    offset = 0
    for size in sizes:
        x[offset:offset + size].add_(direction[offset:offset + size], alpha=step)
        offset += size


def trial_point(x: torch.Tensor, step, direction: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    point = x.clone()
    add_step(point, step, direction, sizes)
    return point


def cubic_minimum(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to ``bounds``."""
    low, high = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    discriminant = d1**2 - g1 * g2
    if discriminant < 0:
        return (low + high) / 2.0
    d2 = discriminant.sqrt()
    if x1 <= x2:
        candidate = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        candidate = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(candidate, low), high)


def _evaluate(x, step, direction, sizes):
    loss, grad = yield Evaluate(trial_point(x, step, direction, sizes))
    return float(loss), grad


def strong_wolfe(x, t, d, f, g, gtd, sizes, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """Line search for a step satisfying the strong Wolfe conditions (bracket, then zoom).

    Returns (loss, gradient, step, evaluations) of the accepted point."""
    d_norm = d.abs().max()
    g = g.clone(memory_format=torch.contiguous_format)
    f_new, g_new = yield from _evaluate(x, t, d, sizes)
    evals = 1
    gtd_new = g_new.dot(d)

    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    iteration = 0
    while iteration < max_ls:
        if f_new > (f + c1 * t * gtd) or (iteration > 1 and f_new >= f_prev):
            bracket, bracket_f, bracket_g, bracket_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f, bracket_g, bracket_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [gtd_prev, gtd_new]
            break
        # extrapolate: a step between 1.01 t and 10 t
        previous = t
        t = cubic_minimum(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = previous, f_new, g_new, gtd_new
        f_new, g_new = yield from _evaluate(x, t, d, sizes)
        evals += 1
        gtd_new = g_new.dot(d)
        iteration += 1

    if iteration == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # zoom until a point satisfies the conditions or the bracket is too small
    insufficient = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and iteration < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = cubic_minimum(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        # a trial too close to an end of the bracket twice in a row (or outside it) is moved
        # a tenth of the bracket inwards
        margin = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < margin:
            if insufficient or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - margin if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + margin
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False

        f_new, g_new = yield from _evaluate(x, t, d, sizes)
        evals += 1
        gtd_new = g_new.dot(d)
        iteration += 1

        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low]:
            bracket[high], bracket_f[high], bracket_g[high], bracket_gtd[high] = t, f_new, g_new, gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low], bracket_g[low], bracket_gtd[low] = t, f_new, g_new, gtd_new

    return bracket_f[low], bracket_g[low], bracket[low], evals


def lbfgs_step(x: torch.Tensor, state: LBFGSState, settings: LBFGSSettings):
    """One ``optimizer.step(closure)`` on the flat variables ``x`` (updated in place).

    Returns the loss (tensor) at the point where the step started, as torch does."""
    s = settings
    orig_loss, flat_grad = yield Evaluate(x)
    loss = float(orig_loss)
    current_evals = 1
    state.func_evals += 1
    if flat_grad.abs().max() <= s.tolerance_grad:
        return orig_loss

    d, t, h_diag = state.d, state.t, state.h_diag
    prev_flat_grad, prev_loss = state.prev_flat_grad, state.prev_loss
    history = state.history
    n_iter = 0
    while n_iter < s.max_iter:
        n_iter += 1
        state.n_iter += 1
        if state.n_iter == 1:
            d = flat_grad.neg()
            history.clear()
            h_diag = 1
        else:
            y = flat_grad.sub(prev_flat_grad)
            step_taken = d.mul(t)
            ys = y.dot(step_taken)
            if ys > 1e-10:  # keep only pairs with positive curvature
                history.push(y, step_taken, 1.0 / ys)
                h_diag = ys / y.dot(y)
            if history.batched:
                d = yield Direction(flat_grad, h_diag)
            else:
                d = history.direction(flat_grad, h_diag)
        prev_flat_grad = flat_grad  # never modified in place below
        prev_loss = loss

        t = min(1.0, 1.0 / flat_grad.abs().sum()) * s.lr if state.n_iter == 1 else s.lr
        gtd = flat_grad.dot(d)
        if gtd > -s.tolerance_change:
            break

        used = 0
        if s.line_search == "strong_wolfe":
            loss, flat_grad, t, used = yield from strong_wolfe(x, t, d, loss, flat_grad, gtd, state.sizes,
                                                               max_ls=s.max_eval - current_evals)
            add_step(x, t, d, state.sizes)
            opt_cond = flat_grad.abs().max() <= s.tolerance_grad
        else:
            add_step(x, t, d, state.sizes)
            opt_cond = False
            if n_iter != s.max_iter:  # torch skips the evaluation after the last iteration
                loss_tensor, flat_grad = yield Evaluate(x)
                loss = float(loss_tensor)
                opt_cond = flat_grad.abs().max() <= s.tolerance_grad
                used = 1
        current_evals += used
        state.func_evals += used

        if n_iter == s.max_iter or current_evals >= s.max_eval or opt_cond:
            break
        if d.mul(t).abs().max() <= s.tolerance_change:
            break
        if abs(loss - prev_loss) < s.tolerance_change:
            break

    state.d, state.t, state.h_diag = d, t, h_diag
    state.prev_flat_grad, state.prev_loss = prev_flat_grad, prev_loss
    return orig_loss
