"""``localsgd(p)``: torch's post-local SGD: DDP all-reduce for ``warmup_steps``, then
``PeriodicModelAverager`` averages the models every p steps (momentum buffers stay local).

On CPU ``PostLocalSGDState(subgroup=None)`` raises, so each rank gets a
subgroup of its own (the local all-reduce after warm-up is then a no-op, as
it is across machines of one GPU each).
"""

from __future__ import annotations

import time

import torch.distributed as dist
from torch.distributed.algorithms.ddp_comm_hooks import post_localSGD_hook as post_local
from torch.distributed.algorithms.model_averaging.averagers import PeriodicModelAverager

from sharegrad.sync import SyncOptions, register_sync
from sharegrad.sync.ddp import DDPMethod


class PostLocalSGD(DDPMethod):
    def __init__(self, period: int, warmup_steps: int):
        self.period, self.warmup_steps = period, warmup_steps
        self.label = f"localsgd(p={period},warmup={warmup_steps})"

    def register_hook(self):
        subgroup, _ = dist.new_subgroups(group_size=1)
        state = post_local.PostLocalSGDState(process_group=None, subgroup=subgroup,
                                             start_localSGD_iter=self.warmup_steps)
        self.wrapped.register_comm_hook(state, post_local.post_localSGD_hook)
        self.averager = PeriodicModelAverager(period=self.period, warmup_steps=self.warmup_steps)

    def train_step(self, step, closure):
        if self.comm.world_size > 1 and step < self.warmup_steps:
            self.comm.count_external(self.param_bytes)  # DDP's gradient all-reduce during warm-up
        return super().train_step(step, closure)

    def after_step(self, step):
        if self.comm.world_size == 1:
            return
        averaging = step >= self.warmup_steps and (step - self.warmup_steps) % self.period == 0
        began = time.perf_counter()
        self.averager.average_parameters(self.model.parameters())
        if averaging:
            self.comm.count_external(self.param_bytes)
            self.comm.counters.wait_seconds += time.perf_counter() - began

    def state_dict(self):
        return {**super().state_dict(), "averager_step": getattr(self, "averager", None) and self.averager.step}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        if self.comm.world_size > 1:
            self.averager.step = state["averager_step"]


@register_sync("localsgd", options=("period", "warmup_steps"))
def localsgd(options: SyncOptions):
    return PostLocalSGD(options.period, options.warmup_steps)
