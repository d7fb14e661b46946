"""L-BFGS without line search for K attacks in lock step: one vectorised update per round.

Without a line search every L-BFGS iteration costs exactly one evaluation, so
the K attacks of a batch never wait for each other: each round evaluates every
live attack once (one vectorised call), then a fixed set of [K, n] tensor
operations advances every attack's own copy of torch.optim.LBFGS's ``step``:

- an evaluation that starts an outer step: its loss is what ``step`` returns;
  a gradient already below ``tolerance_grad`` ends the step;
- an evaluation after an iteration's move: the step ends on ``max_eval``, on
  the gradient tolerance, on a move or a loss change below ``tolerance_change``;
- otherwise an iteration: curvature pair (kept only if s.y > 1e-10), direction
  from the attack's own history (``LockstepHistory``, the compact form, as
  ``history.CompactHistory``), step length (min(1, 1/|g|_1) lr on the very
  first iteration, lr after), the descent test g.d > -tolerance_change, the
  move; the max_iter-th move ends the step without an evaluation.

Each attack's step counters, step length, history and termination are its own
(masks pick which attacks take which branch); the coroutine engine
(``lbfgs.py`` with ``scheduler.py``) computes the same thing with one Python
coroutine per attack, and is what a line search still needs. Rows never
change place, and every operation works row by row, so an attack's numbers do
not depend on the other attacks (a diverging one is frozen, the others go on
as before).
"""

from __future__ import annotations

from typing import Callable

import torch

from sharegrad.engine.lbfgs import LBFGSSettings
from sharegrad.engine.scheduler import MIN_ROWS


class LockstepHistory:
    """The curvature pairs of K attacks and their Gram matrices; directions for many attacks per call.

    Same formula as ``CompactHistory``: H g = gamma g + S^T t - gamma Y^T u with
    u = R^-1 S g and t = R^-T ((D + gamma Y Y^T) u - gamma Y g), R the upper
    triangle of s_i . y_j in push order and D its diagonal. What it costs is
    reading the history (2.5 MB per attack for DLG on 32x32 images), so each
    iteration reads an attack's [S; Y] block twice and no more:

    - one matrix-vector product gives S g and Y g. Matrix-vector, not a matrix
      product with a few columns: on a CPU the former streams at memory speed,
      the latter runs several times slower;
    - the new pair's Gram entries come without touching the history: R needs
      s_i . y_new (s_new . y_j, in its lower triangle, is never used) and Y^T Y
      needs y_j . y_new; they are S g - S g_prev and Y g - Y g_prev (this
      product minus the previous iteration's), and s_new . y_new and
      y_new . y_new are the dot products L-BFGS computes anyway. When
      |y_new| < |g| / 10, the
      difference S g - S g_prev would lose digits that S y_new keeps, so that
      attack's entries come from one more product with y_new (``direct_products``
      counts them; rare in DLG);
    - one more matrix-vector product gives the direction.

    The small batched operations (Gram updates, two triangular solves) run for
    ``group`` attacks per call, by default all of them: on the 2-core CPU this
    was written on, a block's second read cost as much just after its first as
    later, so fewer, larger calls win. On a GPU (``batched_products``, the
    default off the CPU) the two products are one batched call each for the
    group instead of one call per attack. The Gram matrices are kept in age
    order (oldest pair first), so the triangular solves need no reordering;
    slots a young history has not filled yet hold zeros and get a unit diagonal
    in R, which makes them add exact zeros, so every attack's system has the
    same size. An attack's numbers depend on its own data only.
    """

    def __init__(self, attacks: int, size: int, numel: int, device, dtype=torch.float32, group: int | None = None,
                 batched_products: bool | None = None):
        if group is not None and group < 1:
            raise ValueError("group must be >= 1")
        self.attacks, self.size, self.numel, self.group = attacks, size, numel, group or attacks
        # on a GPU one batched product for the group beats one launch per attack
        self.batched_products = torch.device(device).type != "cpu" if batched_products is None else batched_products
        self.pairs = torch.zeros(attacks, 2 * size, numel, device=device, dtype=dtype)  # ring buffers [S; Y]
        self.s, self.y = self.pairs[:, :size], self.pairs[:, size:]
        # Gram matrices in age order (0 = oldest pair kept): [k, i, j] = s_i . y_j and y_i . y_j
        self.sy = torch.zeros(attacks, size, size, device=device, dtype=dtype)
        self.yy = torch.zeros(attacks, size, size, device=device, dtype=dtype)
        self.head = torch.zeros(attacks, dtype=torch.long, device=device)  # next slot to write
        self.pushed = torch.zeros(attacks, dtype=torch.long, device=device)
        # S g and Y g of the last call, in the age order of that time
        self.last_sg = torch.zeros(attacks, size, device=device, dtype=dtype)
        self.last_yg = torch.zeros_like(self.last_sg)
        self.direct_products = 0
        self._ages = torch.arange(size, device=device)

    ROWS = ("pairs", "sy", "yy", "head", "pushed", "last_sg", "last_yg")  # one attack's part of the store

    def row_state(self, k: int) -> dict:
        return {name: getattr(self, name)[k].clone() for name in self.ROWS}

    def load_row_state(self, k: int, state: dict) -> None:
        for name in self.ROWS:
            getattr(self, name)[k] = state[name]

    def directions(self, ask: torch.Tensor, grads: torch.Tensor, gamma: torch.Tensor, push: torch.Tensor,
                   steps: torch.Tensor, changes: torch.Tensor, sy_new: torch.Tensor, yy_new: torch.Tensor) -> torch.Tensor:
        """Stores the new pairs of the attacks in ``push``, then returns -H g for the attacks in
        ``ask`` (other rows of the result are left unset).

        A pushing attack's pair is (``steps`` s_new, ``changes`` y_new), with y_new = g minus the
        gradient of its last call here (as in L-BFGS, where every iteration after the first asks
        for a direction), s_new . y_new = ``sy_new`` and y_new . y_new = ``yy_new``. ask, push:
        bool [K]; grads, steps, changes: [K, n]; gamma, sy_new, yy_new: [K]."""
        direction = torch.empty_like(grads)
        asking = ask.tolist()
        for first in range(0, self.attacks, self.group):
            rows = slice(first, min(first + self.group, self.attacks))
            members = [k for k in range(rows.start, rows.stop) if asking[k]]
            if members:
                self._group(rows, members, ask[rows], grads[rows], gamma[rows], push[rows], steps[rows],
                            changes[rows], sy_new[rows], yy_new[rows], direction)
        return direction

    def _group(self, rows: slice, members, ask, g, gamma, push, steps, changes, sy_new, yy_new, out) -> None:
        m = self.size
        ages = self._ages[None, :]
        full_before = self.pushed[rows] >= m
        sy, yy = self.sy[rows], self.yy[rows]

        pushing = push.nonzero().flatten()
        if pushing.numel():
            index = pushing + rows.start
            slots = self.head[index]
            self.s[index, slots] = steps[pushing]
            self.y[index, slots] = changes[pushing]
            self.head[index] = (slots + 1) % m
            self.pushed[index] += 1
        pushed = self.pushed[rows]
        count = pushed.clamp(max=m)

        # S g and Y g: each asking attack's block read once
        if self.batched_products:
            products = torch.bmm(self.pairs[rows], g[:, :, None])[:, :, 0]
        else:
            products = g.new_zeros(g.shape[0], 2 * m)
            for k in members:
                torch.mv(self.pairs[k], g[k - rows.start], out=products[k - rows.start])
        start = torch.where(pushed > m, self.head[rows], torch.zeros_like(count))
        order = (start[:, None] + ages) % m  # slot of each age, oldest first
        sg, yg = products[:, :m].gather(1, order), products[:, m:].gather(1, order)

        if pushing.numel():
            def aged(vector):  # last call's ages -> this call's: the oldest dropped when the ring was full
                shifted = torch.cat([vector[:, 1:], vector.new_zeros(vector.shape[0], 1)], dim=1)
                return torch.where(full_before[:, None], shifted, vector)

            s_y_new = sg - aged(self.last_sg[rows])  # s_i . y_new = s_i . g - s_i . g_prev
            y_y_new = yg - aged(self.last_yg[rows])
            direct = (push & (yy_new < 0.01 * torch.linalg.vecdot(g, g))).nonzero().flatten().tolist()
            for i in direct:  # the difference would lose digits: one more read of the block
                k = rows.start + i
                both = torch.mv(self.pairs[k], changes[i])
                s_y_new[i], y_y_new[i] = both[:m][order[i]], both[m:][order[i]]
            self.direct_products += len(direct)
            newest = (count - 1).clamp(min=0)
            older = ages < newest[:, None]
            at_newest = ages == newest[:, None]
            sy_column = torch.where(older, s_y_new, torch.where(at_newest, sy_new[:, None], 0))  # s_i . y_new
            yy_line = torch.where(older, y_y_new, torch.where(at_newest, yy_new[:, None], 0))
            moved = push & full_before
            sy = torch.where(moved[:, None, None], torch.nn.functional.pad(sy[:, 1:, 1:], (0, 1, 0, 1)), sy)
            yy = torch.where(moved[:, None, None], torch.nn.functional.pad(yy[:, 1:, 1:], (0, 1, 0, 1)), yy)
            row_index = newest[:, None, None].expand(-1, 1, m)  # (R needs only the upper triangle of S^T Y)
            column_index = newest[:, None, None].expand(-1, m, 1)
            keep = ~push[:, None]
            sy = sy.scatter(2, column_index, torch.where(keep, sy.gather(2, column_index)[:, :, 0], sy_column)[:, :, None])
            yy = yy.scatter(1, row_index, torch.where(keep, yy.gather(1, row_index)[:, 0], yy_line)[:, None, :])
            yy = yy.scatter(2, column_index, torch.where(keep, yy.gather(2, column_index)[:, :, 0], yy_line)[:, :, None])
            self.sy[rows], self.yy[rows] = sy, yy

        used = ages < count[:, None]
        r = torch.triu(sy)
        diagonal = torch.where(used, torch.diagonal(r, dim1=1, dim2=2), torch.ones_like(gamma)[:, None])
        r.diagonal(dim1=1, dim2=2).copy_(diagonal)  # unfilled ages: unit diagonal, zeros elsewhere
        u = torch.linalg.solve_triangular(r, sg[:, :, None], upper=True)[:, :, 0]
        w = diagonal * u + gamma[:, None] * ((yy @ u[:, :, None])[:, :, 0] - yg)
        t = torch.linalg.solve_triangular(r.transpose(1, 2), w[:, :, None], upper=False)[:, :, 0]

        # H g = gamma g + [S; Y]^T [t; -gamma u], coefficients in slot order
        coefficients = torch.empty(g.shape[0], 2, m, dtype=g.dtype, device=g.device)
        coefficients.scatter_(2, order[:, None, :].expand(-1, 2, -1), torch.stack([t, u * -gamma[:, None]], dim=1))
        scaled = g * gamma[:, None]
        if self.batched_products:
            out[rows] = torch.baddbmm(scaled[:, None, :], coefficients.view(-1, 1, 2 * m), self.pairs[rows])[:, 0].neg()
        else:
            for k in members:
                i = k - rows.start
                torch.addmv(scaled[i], self.pairs[k].t(), coefficients[i].view(-1), out=out[k]).neg_()

        keep = ~ask[:, None]
        self.last_sg[rows] = torch.where(keep, self.last_sg[rows], sg)
        self.last_yg[rows] = torch.where(keep, self.last_yg[rows], yg)


def lockstep_lbfgs(evaluate: Callable, x: torch.Tensor, settings: LBFGSSettings,
                   step_end: Callable[[list[int], list[float]], list[int]], history_group: int | None = None,
                   resume: dict[int, dict] | None = None,
                   save: Callable[[list[int], Callable[[int], dict]], None] | None = None) -> torch.Tensor:
    """Runs K attacks' L-BFGS (no line search) on the rows of ``x`` [K, n], in place, until every attack stopped.

    ``evaluate(attacks, points)`` -> (losses [k], gradients [k, n]) for a list of attack rows;
    ``step_end(attacks, losses)`` is told which attacks just ended an outer step and the loss
    that step started from (what ``optimizer.step`` returns), and returns those that stop now.
    ``save(attacks, state)``, if given, is then told which of them go on; ``state(k)`` is attack
    k's whole L-BFGS state at that point (its row of x excluded), which ``resume`` (attack ->
    state) starts it from. Returns each attack's evaluation count."""
    if settings.line_search is not None:
        raise ValueError("the lock-step engine is L-BFGS without a line search")
    s = settings
    count, numel = x.shape
    device, dtype = x.device, x.dtype
    history = LockstepHistory(count, s.history_size, numel, device, dtype, group=history_group)
    alive = torch.ones(count, dtype=torch.bool, device=device)
    starting = torch.ones(count, dtype=torch.bool, device=device)  # the next evaluation starts an outer step
    grads = torch.zeros_like(x)
    losses = torch.zeros(count, dtype=torch.float64, device=device)  # torch's LBFGS keeps losses as Python floats
    previous_grad = torch.zeros_like(x)
    previous_loss = torch.zeros_like(losses)
    step_loss = torch.zeros_like(losses)
    d = torch.zeros_like(x)
    t = torch.zeros(count, dtype=dtype, device=device)
    h_diag = torch.ones(count, dtype=dtype, device=device)
    iterations_total = torch.zeros(count, dtype=torch.long, device=device)  # state['n_iter']
    iterations_step = torch.zeros_like(iterations_total)
    step_evals = torch.zeros_like(iterations_total)
    evaluations = torch.zeros_like(iterations_total)
    # an attack's rows between two outer steps: all its L-BFGS state (the others are reset at a step's start)
    names = ("grads", "losses", "previous_grad", "previous_loss", "step_loss", "d", "t", "h_diag",
             "iterations_total", "iterations_step", "step_evals", "evaluations")

    def state(k: int) -> dict:
        rows = {"grads": grads, "losses": losses, "previous_grad": previous_grad, "previous_loss": previous_loss,
                "step_loss": step_loss, "d": d, "t": t, "h_diag": h_diag, "iterations_total": iterations_total,
                "iterations_step": iterations_step, "step_evals": step_evals, "evaluations": evaluations}
        return {"rows": {name: rows[name][k].clone() for name in names}, "history": history.row_state(k)}

    for k, saved in (resume or {}).items():
        for name, value in zip(names, (grads, losses, previous_grad, previous_loss, step_loss, d, t, h_diag,
                                       iterations_total, iterations_step, step_evals, evaluations)):
            value[k] = saved["rows"][name]
        history.load_row_state(k, saved["history"])

    while True:
        rows = alive.nonzero().flatten()
        if rows.numel() == 0:
            return evaluations
        asked = rows.tolist()
        if len(asked) == count >= MIN_ROWS:
            loss, grad = evaluate(asked, x)
            grads, losses = grad, loss.to(torch.float64)
        else:
            padded = asked * MIN_ROWS if len(asked) < MIN_ROWS else asked  # see scheduler.MIN_ROWS
            loss, grad = evaluate(padded, x[torch.as_tensor(padded, device=device)])
            grads[rows] = grad[:len(asked)]  # the stopped attacks' rows are never read again
            losses[rows] = loss[:len(asked)].to(torch.float64)
        evaluations += alive

        beginning = alive & starting
        moved = alive & ~starting
        optimal = grads.abs().amax(dim=1) <= s.tolerance_grad
        step_loss = torch.where(beginning, losses, step_loss)
        step_evals = torch.where(beginning, 1, step_evals + moved)
        iterations_step = torch.where(beginning, 0, iterations_step)
        taken = d * t[:, None]  # each attack's last move (its next pair's s)
        tiny_move = taken.abs().amax(dim=1) <= s.tolerance_change
        flat = (losses - previous_loss).abs() < s.tolerance_change
        ended = (beginning & optimal) | (moved & ((step_evals >= s.max_eval) | optimal | tiny_move | flat))

        # one iteration for every other live attack
        iterating = alive & ~ended
        iterations_step += iterating
        iterations_total += iterating
        first = iterating & (iterations_total == 1)
        later = iterating & ~first
        change = grads - previous_grad
        ys = torch.linalg.vecdot(change, taken)
        yy = torch.linalg.vecdot(change, change)
        push = later & (ys > 1e-10)
        h_diag = torch.where(push, ys / yy, h_diag)
        if bool(later.any()):
            towards = history.directions(later, grads, h_diag, push, taken, change, ys, yy)
            d = torch.where(later[:, None], towards, d)
        d = torch.where(first[:, None], grads.neg(), d)
        previous_grad = torch.where(iterating[:, None], grads, previous_grad)
        previous_loss = torch.where(iterating, losses, previous_loss)
        opening = torch.clamp(1.0 / grads.abs().sum(dim=1), max=1.0) * s.lr
        t = torch.where(iterating, torch.where(first, opening, torch.full_like(t, s.lr)), t)
        ascent = torch.linalg.vecdot(grads, d) > -s.tolerance_change
        stepping = iterating & ~ascent
        x.copy_(torch.where(stepping[:, None], x + t[:, None] * d, x))
        ended |= (iterating & ascent) | (stepping & (iterations_step == s.max_iter))
        starting = torch.where(alive, ended, starting)

        finished = ended.nonzero().flatten().tolist()
        if finished:
            stopped = step_end(finished, step_loss[finished].tolist())
            if stopped:
                alive[torch.as_tensor(stopped, device=device)] = False
            if save is not None:
                going_on = [k for k in finished if k not in set(stopped)]
                if going_on:
                    save(going_on, state)
