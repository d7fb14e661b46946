"""``delayed_sparse_topk(t, p, ratio)``: DTS with each window's effect sparsified to its top-k entries.

The combination the paper runs across the world: delayed and temporally
sparse update (``dts.py``), and of each window's effect on the optimizer
state only ``k = ceil(ratio * n)`` entries are sent, with error feedback.

What a window is. As in ``dts.py`` the window's effect is the state (dw, du)
of a shadow optimizer started at zero and fed the window's inputs; the rank
has already applied it to its own (w, u). Because SGD and momentum SGD are
linear in their inputs, a change (dw, du) made at some step is, after later
steps, the change (dw + a du, b du) (``sgd.Transfer``).

What is sent. At each window's close the rank adds its residual (what it
did not send before, carried forward through the steps since, so it is the
change it still makes to its own state) to the window's effect, and picks
the k entries whose eventual effect on the weights is largest,
``|dw - lr * m / (1 - m) * du|`` (the weight change once momentum has run
out; ``|dw|`` without momentum). For those entries it sends the index and
the values of both dw and du, the same entries of weights and momentum, so
the average that comes back replaces the rank's own contribution in both.
The rest becomes the new residual and stays local.

When the average arrives t steps later the rank swaps, in w and u, what it
sent for the average of what every rank sent, carried forward by the same
two scalars as in ``dts.py``. So momentum is never left to drift: every
rank's state is the common state plus its own terms,

    (w_j, u_j) = common + residual_j + open window_j + sum over in-flight windows of sent_j,

each term carried forward to the current step; ``tests/test_dtc_topk.py``
checks that at every step. With ratio 1 nothing stays behind and the method
is ``delayed_sparse(t, p)`` exactly (to rounding). ``finish()`` sends the
open window but not the residual: the ranks end differing by their
residuals, as DGC's do (``dgc.py``).

Bytes. Ranks choose different indices, so the exchange is an all-gather; it
is done as a sum all-reduce of a buffer with one slot per rank, which keeps
it asynchronous through the ``Communicator`` (and the emulated link). A slot
holds k indices and k weight values, plus k momentum values when momentum
> 0: ``slot_elements`` per all-reduce, in the weights' dtype (float64 when
float32 would not hold the indices exactly), twice the ring bytes of an
all-gather of the same slots.
"""

from __future__ import annotations

import math

import torch

from sharegrad.errors import UserError
from sharegrad.sync import SyncOptions, register_sync
from sharegrad.sync.dts import DelayedSparse, Window
from sharegrad.sync.sgd import Transfer

EXACT_FLOAT32_INDEX = 2 ** 24  # indices travel as floats; float32 holds integers exactly below this


def top_k(numel: int, ratio: float) -> int:
    return max(1, math.ceil(ratio * numel))


def slot_elements(numel: int, ratio: float, world_size: int, momentum: float) -> int:
    """Elements of the all-reduced buffer: per rank k indices, k weight values (and k momentum values)."""
    return world_size * (3 if momentum > 0 else 2) * top_k(numel, ratio)


class DelayedSparseTopK(DelayedSparse):
    supports_checkpoints = False  # refused by TrainSpec.validate before any step

    def __init__(self, delay: int, period: int, ratio: float):
        super().__init__(delay, period, compensate=True)
        self.ratio = ratio
        self.label = f"delayed_sparse_topk(t={delay},p={period},ratio={ratio:g})"

    def setup(self, model, optim, comm, defense=None):
        super().setup(model, optim, comm, defense)
        self.residual_w = torch.zeros_like(self.w)
        self.residual_u = torch.zeros_like(self.w) if optim.momentum > 0 else None
        self.k = top_k(self.w.numel(), self.ratio)
        self.parts = 3 if optim.momentum > 0 else 2  # index, w value, (u value) per entry
        exact = self.w.dtype == torch.float64 or self.w.numel() < EXACT_FLOAT32_INDEX
        self.buffer_dtype = self.w.dtype if exact else torch.float64
        self.lr_now = optim.lr_at(0)

    def train_step(self, step, closure):
        self.lr_now = self.optim.lr_at(step)
        loss = super().train_step(step, closure)
        if self.trace is not None:  # the state after the step and this rank's own terms in it
            own_w, own_u = self.own_terms()
            self.trace[-1] = (*self.trace[-1], self.w.clone(), None if self.u is None else self.u.clone(),
                              own_w, own_u)
        return loss

    def _advance(self, lr: float) -> None:
        super()._advance(lr)
        if self.residual_u is not None:  # the residual is a change this rank still makes: carry it too
            self.residual_u.mul_(self.optim.momentum)
            self.residual_w.add_(self.residual_u, alpha=-lr)

    def _close_window(self, step: int) -> None:
        momentum = self.optim.momentum
        change_w = self.residual_w.add_(self.acc_w)
        change_u = None if self.residual_u is None else self.residual_u.add_(self.acc_u)
        score = change_w if change_u is None else change_w - self.lr_now * momentum / (1 - momentum) * change_u
        index = score.abs().topk(self.k, sorted=False).indices
        sent_w = torch.zeros_like(self.w)
        sent_w[index] = change_w[index]
        change_w[index] = 0  # change_w is the residual: what is left
        sent_u = None
        if change_u is not None:
            sent_u = torch.zeros_like(self.w)
            sent_u[index] = change_u[index]
            change_u[index] = 0
        world, rank, k, parts = self.comm.world_size, self.comm.rank, self.k, self.parts
        buffer = torch.zeros(world * parts * k, dtype=self.buffer_dtype, device=self.w.device)
        slot = buffer[rank * parts * k:(rank + 1) * parts * k].view(parts, k)
        slot[0] = index.to(self.buffer_dtype)
        slot[1] = sent_w[index].to(self.buffer_dtype)
        if sent_u is not None:
            slot[2] = sent_u[index].to(self.buffer_dtype)
        handle = self.comm.all_reduce(buffer, async_op=True, average=False)
        self.pending.append(Window(handle, sent_w, sent_u, None, Transfer(), step + self.delay))
        self._reset_window()

    def _apply(self, window: Window) -> None:
        gathered = window.handle.wait()
        k, parts, world = self.k, self.parts, self.comm.world_size
        avg_w = torch.zeros_like(self.w)
        avg_u = None if window.local_u is None else torch.zeros_like(self.w)
        for r in range(world):
            slot = gathered[r * parts * k:(r + 1) * parts * k].view(parts, k)
            index = slot[0].round().long()
            avg_w.index_add_(0, index, slot[1].to(self.w.dtype))
            if avg_u is not None:
                avg_u.index_add_(0, index, slot[2].to(self.w.dtype))
        avg_w /= world
        dw = avg_w - window.local_w
        du = None
        if avg_u is not None:
            avg_u /= world
            du = avg_u - window.local_u
        dw, du = window.transfer.apply(dw, du)
        self.w.add_(dw)
        if du is not None:
            self.u.add_(du)

    def own_terms(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This rank's part of its state now: residual + open window + what it sent that has not come back."""
        own_w = self.residual_w + self.acc_w
        own_u = None if self.residual_u is None else self.residual_u + self.acc_u
        for window in self.pending:
            sent_w, sent_u = window.transfer.apply(window.local_w, window.local_u)
            own_w = own_w + sent_w
            if own_u is not None:
                own_u = own_u + sent_u
        return own_w, own_u

    def state_dict(self):
        raise UserError("delayed_sparse_topk does not checkpoint; run it without --checkpoint-every")


@register_sync("delayed_sparse_topk", options=("delay", "period", "ratio"))
def delayed_sparse_topk(options: SyncOptions):
    return DelayedSparseTopK(options.delay, options.period, options.ratio)
