"""``delayed_sparse_topk(t, p, ratio)``: DTS with each window's update sparsified to its top-k entries.

The combination the paper runs across the world: delayed and temporally
sparse update, and of each window's effect on the weights only the
``ratio`` largest entries are sent (values and indices); the rest stays in
a local residual that is added to the next window (error feedback, as in
DGC). The momentum buffer stays local, as in local SGD. As in ``dts.py`` the
rank applies its own update at once; when a window's average arrives t
steps later the rank swaps the part it sent for the average of what every
rank sent, so ranks differ only by their unsent residuals and in-flight
windows. The swap is exact for the weights (a change of w alone does not
propagate through later SGD or momentum steps).

Ranks choose different indices, so the exchange is an all-gather; it is
done as a sum all-reduce of a buffer with one slot per rank, which keeps
it asynchronous through the ``Communicator`` (and the emulated link) at
twice the bytes of a ring all-gather.

Registered from here (sharegrad.wan) into the sync registry: the WAN
stage imports this module before it builds methods.
"""

from __future__ import annotations

import math

import torch

from sharegrad.errors import UserError
from sharegrad.sync import SyncOptions, register_sync
from sharegrad.sync.dts import DelayedSparse, Window
from sharegrad.sync.sgd import Transfer

EXACT_FLOAT32_INDEX = 2 ** 24  # indices travel as floats; float32 holds integers exactly below this


def slot_elements(numel: int, ratio: float, world_size: int) -> int:
    """Elements of the all-reduced buffer: per rank k values and k indices."""
    return world_size * 2 * max(1, math.ceil(ratio * numel))


class DelayedSparseTopK(DelayedSparse):
    def __init__(self, delay: int, period: int, ratio: float):
        super().__init__(delay, period, compensate=True)
        self.ratio = ratio
        self.label = f"delayed_sparse_topk(t={delay},p={period},ratio={ratio:g})"

    def setup(self, model, optim, comm, defense=None):
        super().setup(model, optim, comm, defense)
        self.residual = torch.zeros_like(self.w)
        self.k = max(1, math.ceil(self.ratio * self.w.numel()))
        exact = self.w.dtype == torch.float64 or self.w.numel() < EXACT_FLOAT32_INDEX
        self.buffer_dtype = self.w.dtype if exact else torch.float64

    def _close_window(self, step: int) -> None:
        self.residual.add_(self.acc_w)
        index = self.residual.abs().topk(self.k, sorted=False).indices
        values = self.residual[index].clone()
        self.residual[index] = 0
        world, rank, k = self.comm.world_size, self.comm.rank, self.k
        buffer = torch.zeros(world * 2 * k, dtype=self.buffer_dtype, device=self.w.device)
        buffer[rank * 2 * k:rank * 2 * k + k] = values.to(self.buffer_dtype)
        buffer[rank * 2 * k + k:(rank + 1) * 2 * k] = index.to(self.buffer_dtype)
        sent = torch.zeros_like(self.w)
        sent[index] = values
        handle = self.comm.all_reduce(buffer, async_op=True, average=False)
        self.pending.append(Window(handle, sent, None, None, Transfer(), step + self.delay))
        self._reset_window()

    def _apply(self, window: Window) -> None:
        gathered = window.handle.wait()
        k = self.k
        average = torch.zeros_like(self.w)
        for r in range(self.comm.world_size):
            values = gathered[r * 2 * k:r * 2 * k + k].to(self.w.dtype)
            index = gathered[r * 2 * k + k:(r + 1) * 2 * k].round().long()
            average.index_add_(0, index, values)
        average /= self.comm.world_size
        self.w.add_(average - window.local_w)

    def state_dict(self):
        raise UserError("delayed_sparse_topk does not checkpoint; run it without --checkpoint-every")


@register_sync("delayed_sparse_topk")
def delayed_sparse_topk(options: SyncOptions):
    options.require_defaults("delayed_sparse_topk", {"delay", "period", "ratio"})
    return DelayedSparseTopK(options.delay, options.period, options.ratio)
