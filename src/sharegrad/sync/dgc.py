"""``dgc(ratio)``: top-k gradient sparsification as in Deep Gradient Compression (Lin et al. 2018).

Each rank sends only the ``ratio`` largest-magnitude entries of its
accumulated update (values and int32 indices, all-gathered, since the
ranks' index sets differ). What it does not send stays in a local residual
(error feedback). Momentum correction: the momentum is accumulated locally
*before* sparsification (u <- m u + v; residual += u), and the optimizer
then applies the averaged sparse update without momentum of its own;
momentum factor masking clears u where entries were sent. DGC's warm-up of
the sparsity and its gradient clipping are left out.
"""

from __future__ import annotations

import math

import torch

from sharegrad.sync import FlatSGDMethod, SyncOptions, register_sync


class TopK(FlatSGDMethod):
    def __init__(self, ratio: float):
        self.ratio = ratio
        self.label = f"dgc(ratio={ratio:g})"

    def setup(self, model, optim, comm, defense=None):
        super().setup(model, optim, comm, defense)
        self.velocity = torch.zeros_like(self.w)
        self.residual = torch.zeros_like(self.w)
        self.k = max(1, math.ceil(self.ratio * self.w.numel()))

    def train_step(self, step, closure):
        v, loss = self.local_gradient(step, closure)
        if self.optim.momentum > 0:
            self.velocity.mul_(self.optim.momentum).add_(v)
            self.residual.add_(self.velocity)
        else:
            self.residual.add_(v)
        index = self.residual.abs().topk(self.k, sorted=False).indices
        values = self.residual[index].clone()
        self.residual[index] = 0
        self.velocity[index] = 0
        gathered_values = self.comm.all_gather(values)
        gathered_index = self.comm.all_gather(index.to(torch.int32))
        update = torch.zeros_like(self.w)
        for idx, val in zip(gathered_index, gathered_values):
            update.index_add_(0, idx.long(), val)
        update /= self.comm.world_size
        self.w.add_(update, alpha=-self.optim.lr_at(step))
        return loss

    def state_dict(self):
        return {"velocity": self.velocity.clone(), "residual": self.residual.clone()}

    def load_state_dict(self, state):
        self.velocity.copy_(state["velocity"])
        self.residual.copy_(state["residual"])


@register_sync("dgc", options=("ratio",))
def dgc(options: SyncOptions):
    return TopK(options.ratio)
