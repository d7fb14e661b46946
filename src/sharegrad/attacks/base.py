"""The attack interface and what all attacks share: the task loss and its gradients."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch
import torch.nn.functional as F

from sharegrad.registry import Registry

ATTACKS: Registry = Registry("attack", "sharegrad.attacks")
register_attack = ATTACKS.register

Observer = Callable[[int, torch.Tensor], None]


@dataclass
class Target:
    """What the attacker holds: the shared gradients and the shapes they came from."""

    shared_gradients: list[torch.Tensor]
    input_shape: tuple[int, ...]  # (batch, channels, height, width) or (batch, tokens) for text
    num_classes: int
    known_labels: Optional[torch.Tensor] = None  # labels recovered before the attack (iDLG, multiset)
    token_type_ids: Optional[torch.Tensor] = None  # text: the segment layout, known like the length


@dataclass
class AttackResult:
    reconstruction: torch.Tensor  # best guess of the inputs, in the attack's order
    labels: torch.Tensor  # recovered labels, one per reconstruction
    loss_curve: list[float]  # gradient-match loss at the start of each outer step, then the final loss
    snapshots: dict[int, torch.Tensor] = field(default_factory=dict)  # outer step -> dummy input
    status: str = "finished"  # finished | diverged
    diverged_at: Optional[int] = None  # outer step at which the run was stopped
    evaluations: int = 0  # gradient-match evaluations (closure calls)
    steps: int = 0  # outer steps completed
    decoded: dict[int, torch.Tensor] = field(default_factory=dict)  # text: outer step -> token ids at snapshots


class _SquaredDistance(torch.autograd.Function):
    """sum_i ||dummy_i - shared_i||^2 in three passes over the gradients instead of about six.

    The plain form, ``sum(((d - s) ** 2).sum())``, writes the difference, its square, and in the
    backward ``2 * d**1`` and the product with the incoming gradient: one full-size temporary each,
    for every parameter. Here the forward keeps the difference, sums its squares with one dot product,
    and the backward scales that difference in place. For the big models (bert-base: 110M gradient
    entries) those passes were half of an evaluation. The sum is ordered differently, so
    the value agrees with the plain form to rounding (tests/test_attack_backward.py), not bit for bit."""

    @staticmethod
    def forward(ctx, count: int, *tensors):
        dummy, shared = tensors[:count], tensors[count:]
        differences = [torch.sub(d, s) for d, s in zip(dummy, shared)]
        total = sum(torch.dot(x.reshape(-1), x.reshape(-1)) for x in differences)
        ctx.count = count
        ctx.save_for_backward(*differences)
        return total

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        scale = 2 * grad
        # the saved differences are this node's own: nothing else reads them once it has run
        return (None, *[x.mul_(scale) for x in ctx.saved_tensors], *([None] * ctx.count))


def squared_gradient_distance(dummy: list[torch.Tensor], shared: list[torch.Tensor]) -> torch.Tensor:
    """DLG's gradient-match loss, sum over parameters of the squared L2 distance (the DLG repository's
    ``((dummy - shared) ** 2).sum()``), computed as :class:`_SquaredDistance`."""
    if len(dummy) != len(shared):
        raise ValueError(f"{len(dummy)} dummy gradients against {len(shared)} shared ones")
    if not dummy:
        raise ValueError("no gradients to match")
    return _SquaredDistance.apply(len(dummy), *dummy, *shared)


def soft_cross_entropy(logits: torch.Tensor, soft_targets: torch.Tensor) -> torch.Tensor:
    """mean(sum(-t * log_softmax(x))): the DLG repository's loss, used by victim and attacker."""
    return torch.mean(torch.sum(-soft_targets * F.log_softmax(logits, dim=-1), dim=-1))


def parameter_gradients(model: torch.nn.Module, inputs: torch.Tensor, soft_targets: torch.Tensor,
                        create_graph: bool = False) -> list[torch.Tensor]:
    params = [p for p in model.parameters() if p.requires_grad]
    loss = soft_cross_entropy(model(inputs), soft_targets)
    return list(torch.autograd.grad(loss, params, create_graph=create_graph))


def victim_gradients(model: torch.nn.Module, inputs: torch.Tensor, labels: torch.Tensor,
                     num_classes: int) -> list[torch.Tensor]:
    """The gradients a participant shares after one step on (inputs, labels)."""
    onehot = F.one_hot(labels, num_classes).to(inputs.dtype)
    return [g.detach() for g in parameter_gradients(model, inputs, onehot)]


def run_attack(name: str, model: torch.nn.Module, target: Target, config: dict, *, seed: int,
               observer: Observer | None = None, checkpoint=None) -> AttackResult:
    """``checkpoint`` (sharegrad.checkpoint.AttackCheckpoint): the attack resumes from it and saves to it."""
    attack = ATTACKS.get(name)
    # an attack that takes no checkpoint (a plug-in may not) runs afresh when its job is run again
    if checkpoint is None or "checkpoint" not in inspect.signature(attack).parameters:
        return attack(model, target, config, seed=seed, observer=observer)
    return attack(model, target, config, seed=seed, observer=observer, checkpoint=checkpoint)
