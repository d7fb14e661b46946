"""Single-process reference: N workers simulated step by step, written from the definition.

It does not reuse the incremental compensation of sync/dts.py. At step n,
worker j's state is recomputed from scratch: SGD (with momentum and weight
decay, sgd.py's arithmetic) replayed from w_0 over the inputs of steps
0..n-1, where step i's input is the average over workers if that average
has arrived by step n-1 (its window of p steps closed, plus t steps), and
otherwise the worker's own v_{i,j} (compensated) or nothing (ablation).
Then v_{n,j} is the gradient at that state on worker j's batch. At the end
every average has arrived. Quadratic in the number of steps: for tests.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.func import functional_call

from sharegrad.sync.sgd import sgd_step
from sharegrad.train.data import TrainData, get_batch, steps_per_epoch
from sharegrad.train.models import build_train_model
from sharegrad.train.trainer import TrainSpec

# method name -> (uses delay, uses period, compensated)
SCHEDULES = {
    "sync": (False, False, True), "ddp": (False, False, True),
    "delayed": (True, False, True), "delayed_nocomp": (True, False, False),
    "sparse": (False, True, True), "sparse_nocomp": (False, True, False),
    "delayed_sparse": (True, True, True), "delayed_sparse_nocomp": (True, True, False),
}


def simulate(spec: TrainSpec, world_size: int, data: TrainData) -> dict:
    """Per-step weights ``states[n][j]``, local inputs ``inputs[n][j]``, and ``final[j]``."""
    uses_delay, uses_period, compensate = SCHEDULES[spec.method]
    t = spec.delay if uses_delay else 0
    p = spec.period if uses_period else 1
    per_epoch = steps_per_epoch(len(data.y_train), world_size, spec.batch_size)
    total = spec.max_steps if spec.max_steps is not None else spec.epochs * per_epoch
    optim = spec.optimizer(total)
    dtype = getattr(torch, spec.dtype)
    model = build_train_model(spec.model, data.num_classes, data.in_channels, spec.seed).to(dtype)
    names = [name for name, _ in model.named_parameters()]
    shapes = [param.shape for _, param in model.named_parameters()]
    w0 = torch.cat([param.detach().reshape(-1) for param in model.parameters()])

    def unflatten(w):
        out, offset = {}, 0
        for name, shape in zip(names, shapes):
            n = shape.numel()
            out[name] = w[offset:offset + n].view(shape)
            offset += n
        return out

    def arrived(i: int, n: int) -> bool:
        closes = (i // p) * p + p - 1
        return closes + t <= n - 1

    inputs: list[list[torch.Tensor]] = []
    averages: list[torch.Tensor] = []

    def replay(j: int, n: int, final: bool = False) -> torch.Tensor:
        w = w0.clone()
        u = torch.zeros_like(w) if optim.momentum > 0 else None
        for i in range(n):
            if final or arrived(i, n):
                v = averages[i]
            else:
                v = inputs[i][j] if compensate else None
            sgd_step(w, u, v, optim.lr_at(i), optim.momentum)
        return w

    states = []
    for n in range(total):
        epoch, in_epoch = divmod(n, per_epoch)
        row_w, row_v = [], []
        for j in range(world_size):
            w = replay(j, n)
            x, y = get_batch(data, world_size, j, spec.batch_size, epoch, in_epoch, spec.seed, n)
            params = {k: v.detach().requires_grad_(True) for k, v in unflatten(w).items()}
            loss = F.cross_entropy(functional_call(model, params, (x.to(dtype),)), y)
            grads = torch.autograd.grad(loss, [params[k] for k in names])
            v = torch.cat([g.reshape(-1) for g in grads]) + optim.weight_decay * w
            row_w.append(w)
            row_v.append(v)
        states.append(row_w)
        inputs.append(row_v)
        averages.append(torch.stack(row_v).mean(0))
    final = [replay(j, total, final=True) for j in range(world_size)]
    return {"states": states, "inputs": inputs, "final": final}
