"""``delayed_sparse(t, p)``: delayed and temporally sparse update (DTS), with and without compensation.

Every step the rank computes its gradient v and (compensated) applies it to
its own weights at once. A window is p consecutive steps; when it closes,
the window's effect on the optimizer state is all-reduced *asynchronously*
and waited for t steps later, while the rank keeps computing. On arrival the
rank swaps its own contribution for the average: afterwards its state is the
one it would have had if the window's steps had used the averaged gradients.

Why this is exact: with v = g + weight_decay * w taken as the input, SGD and
momentum SGD are linear in their inputs (sgd.py). The window's effect is the
state of a shadow optimizer started at zero and fed the window's inputs
(for vanilla SGD the slides' ``-lr * sum v``, for momentum SGD their double
sum of m^(i-j)); its effect t steps later follows from two scalars
(``Transfer``). So the average of the shadow states is the shadow state of
the averaged gradients. Invariant (vanilla SGD, p = 1), after n steps:
w_n = w_0 - lr * sum_{i <= n-1-t} mean_v_i - lr * sum_{n-t <= i <= n-1} v_i.

Without compensation (the ablation) a rank never applies its own gradient:
its weights only move by averages as they arrive (every rank identical), so
the gradients it computes are t to t+p-1 steps stale. What it computes is
exactly: after n steps, the state of SGD (or momentum SGD) replayed from w_0
in which step i is fed the average of step i if that average has arrived by
step n, and a zero input otherwise (``train/reference.py`` simulates this
definition). With vanilla SGD that is stale-gradient SGD,
w_{n+1} = w_n - lr * (sum of the averages arriving at step n). With momentum
it is not textbook stale-gradient momentum SGD (u <- m u + mean_v_{n-t};
w <- w - lr u): an average arriving t steps late is added together with its
back-dated momentum tail, i.e. w jumps by the t-step effect the average would
have had if applied on time (-lr * sum_{k=0..t} m^k * mean_v at lr constant)
and u by m^t * mean_v. It is the compensated method with the rank's own
inputs set to zero, which isolates what compensation adds.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sharegrad.sync import FlatSGDMethod, SyncOptions, register_sync
from sharegrad.sync.comm import Handle
from sharegrad.sync.sgd import Transfer, sgd_step


@dataclass
class Window:
    """A closed window whose average is in flight."""

    handle: Handle
    local_w: torch.Tensor          # this rank's shadow state at closing
    local_u: torch.Tensor | None
    single_lr: float | None        # one-step window: only v was sent (half the bytes with momentum)
    transfer: Transfer
    due_step: int


class DelayedSparse(FlatSGDMethod):
    def __init__(self, delay: int, period: int, compensate: bool = True):
        self.delay, self.period, self.compensate = delay, period, compensate
        self.label = f"delayed_sparse(t={delay},p={period}){'' if compensate else ',no-comp'}"

    def setup(self, model, optim, comm, defense=None):
        super().setup(model, optim, comm, defense)
        self.pending: list[Window] = []
        self._reset_window()

    def _reset_window(self) -> None:
        momentum = self.optim.momentum > 0
        self.acc_w = torch.zeros_like(self.w)
        self.acc_u = torch.zeros_like(self.w) if momentum else None
        self.window_steps = 0
        self.last_v = None
        self.last_lr = None

    def train_step(self, step, closure):
        lr = self.optim.lr_at(step)
        v, loss = self.local_gradient(step, closure)
        sgd_step(self.acc_w, self.acc_u, v, lr, self.optim.momentum)
        self.window_steps += 1
        self.last_v, self.last_lr = v, lr
        # Without compensation the rank's own input is zero; momentum still moves it.
        self.apply(v if self.compensate else None, lr)
        self._advance(lr)
        if self.window_steps == self.period:
            self._close_window(step)
        self._apply_arrived(step)
        return loss

    def _advance(self, lr: float) -> None:
        """Carry the changes still to be made (in-flight windows) through this step's zero-input step."""
        for window in self.pending:
            window.transfer.advance(lr, self.optim.momentum)

    def _close_window(self, step: int) -> None:
        momentum = self.optim.momentum > 0
        if self.window_steps == 1:
            payload, single_lr = self.last_v.clone(), self.last_lr
        else:
            parts = [self.acc_w] + ([self.acc_u] if momentum else [])
            payload, single_lr = torch.cat(parts), None
        handle = self.comm.all_reduce(payload, async_op=True)
        self.pending.append(Window(handle, self.acc_w, self.acc_u, single_lr, Transfer(), step + self.delay))
        self._reset_window()

    def _apply_arrived(self, step: int, everything: bool = False) -> None:
        keep = []
        for window in self.pending:
            if everything or window.due_step <= step:
                self._apply(window)
            else:
                keep.append(window)
        self.pending = keep

    def _apply(self, window: Window) -> None:
        average = window.handle.wait()
        if window.single_lr is not None:
            avg_w, avg_u = -window.single_lr * average, (average if window.local_u is not None else None)
        else:
            n = self.w.numel()
            avg_w, avg_u = average[:n], (average[n:] if window.local_u is not None else None)
        if self.compensate:
            dw = avg_w - window.local_w
            du = None if avg_u is None else avg_u - window.local_u
        else:
            dw, du = avg_w, avg_u
        dw, du = window.transfer.apply(dw, du)
        self.w.add_(dw)
        if du is not None:
            self.u.add_(du)

    def finish(self):
        if self.window_steps:
            self._close_window(step=-1)
        self._apply_arrived(step=-1, everything=True)

    def state_dict(self):
        # In-flight averages are waited for here: a checkpoint holds the received
        # tensors, so a resumed run applies them at the same steps.
        for window in self.pending:
            window.handle.wait()
        return {
            **super().state_dict(),
            "acc_w": self.acc_w.clone(), "acc_u": None if self.acc_u is None else self.acc_u.clone(),
            "window_steps": self.window_steps, "last_v": self.last_v, "last_lr": self.last_lr,
            "pending": [{"average": w.handle.tensor.clone(), "local_w": w.local_w, "local_u": w.local_u,
                         "single_lr": w.single_lr, "a": w.transfer.a, "b": w.transfer.b, "due_step": w.due_step}
                        for w in self.pending],
        }

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.acc_w.copy_(state["acc_w"])
        if self.acc_u is not None:
            self.acc_u.copy_(state["acc_u"])
        self.window_steps, self.last_v, self.last_lr = state["window_steps"], state["last_v"], state["last_lr"]
        self.pending = [
            Window(Handle(self.comm, p["average"], None, False, 0.0, 0, done=True), p["local_w"], p["local_u"],
                   p["single_lr"], Transfer(p["a"], p["b"]), p["due_step"])
            for p in state["pending"]]


@register_sync("delayed_sparse", options=("delay", "period"))
def delayed_sparse(options: SyncOptions):
    return DelayedSparse(options.delay, options.period, compensate=True)


@register_sync("delayed_sparse_nocomp", options=("delay", "period"))
def delayed_sparse_nocomp(options: SyncOptions):
    return DelayedSparse(options.delay, options.period, compensate=False)
