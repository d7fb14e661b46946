"""Sync methods, one file each, selected by name: ``build_sync_method("delayed", options)``.

A sync method owns what happens between a rank's backward pass and its
weights: whether and when gradients (or models) are communicated and how
they are applied. Every collective goes through ``sync.comm.Communicator``.

    @register_sync("delayed", options=("delay",))
    def delayed(options: SyncOptions) -> SyncMethod

``options`` names the fields of ``SyncOptions`` the method reads. It is the one
place that says so: ``build_sync_method`` refuses any other field set away from
its default, and the DTS and WAN stages of the pipeline pass a method exactly
these options.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable

import torch
from torch import nn

from sharegrad.errors import UserError
from sharegrad.registry import Registry
from sharegrad.sync.comm import Communicator
from sharegrad.sync.sgd import FlatParameters, OptimizerConfig, sgd_step

SYNC_METHODS: Registry = Registry("sync method", __name__)
register_sync = SYNC_METHODS.register

# closure(module) runs forward and backward of the current batch on `module`
# and returns the batch loss.
Closure = Callable[[nn.Module], float]
# defense(per-parameter gradients, step) -> per-parameter gradients
GradientTransform = Callable[[list[torch.Tensor], int], list[torch.Tensor]]


@dataclass
class SyncOptions:
    delay: int = 0          # t: steps an average arrives late (delayed update)
    period: int = 1         # p: steps between synchronisations (temporally sparse update)
    ratio: float = 0.01     # fraction of entries top-k sends (dgc)
    rank: int = 2           # PowerSGD's matrix approximation rank
    warmup_steps: int = 0   # steps of plain all-reduce before local SGD / PowerSGD start
    # DiLoCo and its streaming form (diloco.py): ``period`` is H, the inner steps between outer steps.
    outer_lr: float = 0.7        # outer Nesterov SGD's learning rate (DiLoCo's value, see diloco.py)
    outer_momentum: float = 0.9  # outer Nesterov SGD's momentum
    fragments: int = 1      # F: parts of the model synchronised on a staggered schedule
    overlap: int = 0        # tau: inner steps a fragment's outer update arrives late
    mix: float = 0.0        # alpha: on arrival local <- alpha * local + (1 - alpha) * global

    def validate(self) -> None:
        if self.delay < 0:
            raise UserError(f"delay t must be >= 0, got {self.delay}")
        if self.period < 1:
            raise UserError(f"period p must be >= 1, got {self.period}")
        if not 0 < self.ratio <= 1:
            raise UserError(f"top-k ratio must be in (0, 1], got {self.ratio}")
        if self.rank < 1:
            raise UserError(f"PowerSGD rank must be >= 1, got {self.rank}")
        if self.warmup_steps < 0:
            raise UserError(f"warmup steps must be >= 0, got {self.warmup_steps}")
        if not self.outer_lr > 0:
            raise UserError(f"outer learning rate must be > 0, got {self.outer_lr}")
        if not 0 <= self.outer_momentum < 1:
            raise UserError(f"outer momentum must be in [0, 1), got {self.outer_momentum}")
        if self.fragments < 1:
            raise UserError(f"fragments must be >= 1, got {self.fragments}")
        if self.overlap < 0:
            raise UserError(f"overlap tau must be >= 0, got {self.overlap}")
        if not 0 <= self.mix <= 1:
            raise UserError(f"mix alpha must be in [0, 1], got {self.mix}")

    def require_defaults(self, method: str, used: set[str]) -> None:
        """Refuse an option the method would silently ignore."""
        defaults = SyncOptions()
        for field in fields(self):
            name = field.name
            if name not in used and getattr(self, name) != getattr(defaults, name):
                raise UserError(f"sync method {method!r} takes no {name} (got {getattr(self, name)})")


class SyncMethod:
    """Base: set up once, then ``train_step`` per step, ``finish`` once at the end."""

    label = "?"
    supports_defenses = True
    supports_checkpoints = True  # False: the trainer refuses checkpoint options before any step

    def setup(self, model: nn.Module, optim: OptimizerConfig, comm: Communicator,
              defense: GradientTransform | None = None) -> None:
        self.model, self.optim, self.comm, self.defense = model, optim, comm, defense

    def train_step(self, step: int, closure: Closure) -> float:
        raise NotImplementedError

    def finish(self) -> None:
        """Complete outstanding communication so every rank holds its final weights."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class FlatSGDMethod(SyncMethod):
    """Methods that run sharegrad's own SGD on one flat vector (sync, DTS, DGC)."""

    trace: list | None = None  # tests set a list: (step, weights before, local v) per step

    def setup(self, model, optim, comm, defense=None) -> None:
        super().setup(model, optim, comm, defense)
        self.flat = FlatParameters(model)
        self.w = self.flat.vector
        self.u = torch.zeros_like(self.w) if optim.momentum > 0 else None

    def local_gradient(self, step: int, closure: Closure) -> tuple[torch.Tensor, float]:
        """v = (defended loss gradient) + weight_decay * w: what this rank would apply alone."""
        self.flat.zero_grad()
        loss = closure(self.model)
        grads = self.flat.grads()
        if self.defense is not None:
            grads = self.defense(grads, step)
        v = self.flat.flatten(grads)
        if self.optim.weight_decay:
            v = v.add(self.w, alpha=self.optim.weight_decay)
        if self.trace is not None:
            self.trace.append((step, self.w.detach().clone(), v.detach().clone()))
        return v, loss

    def apply(self, v: torch.Tensor | None, lr: float) -> None:
        sgd_step(self.w, self.u, v, lr, self.optim.momentum)

    def state_dict(self) -> dict:
        return {"u": None if self.u is None else self.u.clone()}

    def load_state_dict(self, state: dict) -> None:
        if self.u is not None:
            self.u.copy_(state["u"])


def sync_method_options(name: str) -> tuple[str, ...]:
    """The ``SyncOptions`` fields the registered method ``name`` reads (its ``options=`` declaration)."""
    factory = SYNC_METHODS.get(name)
    declared = tuple(getattr(factory, "options", ()))
    unknown = set(declared) - {f.name for f in fields(SyncOptions)}
    if unknown:
        raise UserError(f"sync method {name!r} declares option(s) {sorted(unknown)} that SyncOptions lacks")
    return declared


def build_sync_method(name: str, options: SyncOptions) -> SyncMethod:
    options.validate()
    options.require_defaults(name, set(sync_method_options(name)))
    method = SYNC_METHODS.get(name)(options)
    method.name = name
    return method
