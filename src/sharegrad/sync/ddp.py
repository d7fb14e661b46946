"""``ddp``: torch's DistributedDataParallel with torch.optim.SGD, the reference point for ``sync``.

Also the base of the torch baselines (local SGD, PowerSGD): they keep torch's
own optimizer and DDP's bucketed, overlapped all-reduce. The plain all-reduce
hook here routes DDP's buckets through the Communicator (so bytes are
counted and a link emulation can wrap it); DDP waits for the buckets inside
backward, so their waiting time is not separated from compute (recorded as
not measured).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from sharegrad.errors import UserError
from sharegrad.sync import SyncMethod, SyncOptions, register_sync


class DDPMethod(SyncMethod):
    label = "ddp"
    supports_defenses = False
    wait_measured = False

    def setup(self, model, optim, comm, defense=None):
        if defense is not None:
            raise UserError(f"sync method {self.label!r} runs torch's DDP, which communicates inside backward: "
                            f"defenses cannot be applied before communication; use sync, delayed or sparse")
        super().setup(model, optim, comm, defense)
        self.param_bytes = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
        if comm.world_size > 1:
            device_ids = [model_device(model)] if model_device(model).type == "cuda" else None
            self.wrapped = DistributedDataParallel(model, device_ids=device_ids, process_group=comm.group)
            self.register_hook()
        else:
            self.wrapped = model
        self.optimizer = torch.optim.SGD(model.parameters(), lr=optim.lr, momentum=optim.momentum,
                                         weight_decay=optim.weight_decay)

    def register_hook(self) -> None:
        comm = self.comm

        def allreduce_through_comm(state, bucket):
            handle = comm.all_reduce(bucket.buffer(), async_op=True, average=False)
            return handle.work.get_future().then(lambda fut: fut.value()[0].div_(comm.world_size))

        self.wrapped.register_comm_hook(None, allreduce_through_comm)

    def train_step(self, step, closure):
        for group in self.optimizer.param_groups:
            group["lr"] = self.optim.lr_at(step)
        self.optimizer.zero_grad(set_to_none=True)
        loss = closure(self.wrapped)
        self.optimizer.step()
        self.after_step(step)
        return loss

    def after_step(self, step: int) -> None:
        pass

    def state_dict(self):
        return {"optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state):
        self.optimizer.load_state_dict(state["optimizer"])


def model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@register_sync("ddp", options=())
def ddp(options: SyncOptions):
    return DDPMethod()
