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
