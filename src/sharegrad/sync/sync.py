"""``sync``: all-reduce every step's gradient and apply the average (what DDP does)."""

from __future__ import annotations

from sharegrad.sync import FlatSGDMethod, SyncOptions, register_sync


class Synchronous(FlatSGDMethod):
    label = "sync"

    def train_step(self, step, closure):
        v, loss = self.local_gradient(step, closure)
        average = self.comm.all_reduce(v).tensor
        self.apply(average, self.optim.lr_at(step))
        return loss


@register_sync("sync", options=())
def sync(options: SyncOptions):
    return Synchronous()
