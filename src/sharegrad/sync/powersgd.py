"""``powersgd(rank)``: DDP with torch's PowerSGD communication hook (Vogels et al. 2019).

Low-rank (``rank``) compression of each gradient matrix with error
feedback; plain all-reduce for the first ``max(2, warmup_steps)`` steps, as
the hook requires. Bytes come from the hook's own compression statistics.
"""

from __future__ import annotations

from torch.distributed.algorithms.ddp_comm_hooks import powerSGD_hook as power

from sharegrad.sync import SyncOptions, register_sync
from sharegrad.sync.ddp import DDPMethod


class PowerSGD(DDPMethod):
    def __init__(self, rank: int, warmup_steps: int):
        self.rank, self.start_iter = rank, max(2, warmup_steps)
        self.label = f"powersgd(rank={rank})"

    def register_hook(self):
        self.state = power.PowerSGDState(process_group=None, matrix_approximation_rank=self.rank,
                                         start_powerSGD_iter=self.start_iter, random_seed=0)
        self.wrapped.register_comm_hook(self.state, power.powerSGD_hook)
        self.sent_numel = 0

    def after_step(self, step):
        if self.comm.world_size == 1:
            return
        after = self.state.total_numel_after_compression
        if after == self.sent_numel:  # vanilla all-reduce before the hook starts compressing
            self.comm.count_external(self.param_bytes)
        else:
            self.comm.count_external(4 * (after - self.sent_numel))
            self.sent_numel = after


@register_sync("powersgd", options=("rank", "warmup_steps"))
def powersgd(options: SyncOptions):
    return PowerSGD(options.rank, options.warmup_steps)
