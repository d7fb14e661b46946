"""SGD with momentum and weight decay on one flat parameter vector.

The arithmetic is torch.optim.SGD's (dampening 0, no Nesterov): with
``v = g + weight_decay * w``, ``u <- m u + v`` and ``w <- w - lr u`` (``u``
starts at zero, so the first step is torch's ``u = v``). The state (w, u) is
linear in the inputs v, which is what makes the DTS compensation exact: the
contribution of any input can be tracked by two scalars and swapped later.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from sharegrad.errors import UserError


@dataclass
class OptimizerConfig:
    lr: float = 0.1
    momentum: float = 0.0
    weight_decay: float = 0.0
    schedule: str = "constant"  # constant | cosine (per step, to 0 at the last step)
    total_steps: int = 1

    def validate(self) -> None:
        if not self.lr > 0:
            raise UserError(f"learning rate must be > 0, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise UserError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.weight_decay < 0:
            raise UserError(f"weight decay must be >= 0, got {self.weight_decay}")
        if self.schedule not in ("constant", "cosine"):
            raise UserError(f"unknown learning-rate schedule {self.schedule!r}; choose constant or cosine")

    def lr_at(self, step: int) -> float:
        if self.schedule == "cosine":
            return 0.5 * self.lr * (1 + math.cos(math.pi * step / max(1, self.total_steps)))
        return self.lr


def sgd_step(w: torch.Tensor, u: torch.Tensor | None, v: torch.Tensor | None, lr: float, momentum: float) -> None:
    """One step in place; ``v=None`` is a zero input (momentum still moves ``w``)."""
    if momentum > 0:
        u.mul_(momentum)
        if v is not None:
            u.add_(v)
        w.add_(u, alpha=-lr)
    elif v is not None:
        w.add_(v, alpha=-lr)


class Transfer:
    """How a change of (w, u) made at some step propagates through later zero-input steps.

    After steps with learning rates lr_1..lr_k a change (dw, du) has become
    ``(dw + a du, b du)``; a and b are scalars, the same on every rank.
    """

    def __init__(self, a: float = 0.0, b: float = 1.0):
        self.a, self.b = a, b

    def advance(self, lr: float, momentum: float) -> None:
        self.a, self.b = self.a - lr * momentum * self.b, momentum * self.b

    def apply(self, dw: torch.Tensor, du: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        if du is None:
            return dw, None
        return dw + self.a * du, self.b * du


class FlatParameters:
    """Rebind a model's parameters as views into one flat vector (as DDP's buckets, but one)."""

    def __init__(self, model: nn.Module):
        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            raise UserError("the model has no trainable parameters")
        first = self.params[0]
        self.vector = torch.cat([p.detach().reshape(-1) for p in self.params]).to(first.device, first.dtype)
        offset = 0
        for p in self.params:
            n = p.numel()
            p.data = self.vector[offset:offset + n].view_as(p)
            offset += n

    def grads(self) -> list[torch.Tensor]:
        return [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]

    def flatten(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat([t.reshape(-1) for t in tensors])

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None
