"""Defenses: transforms of the shared gradients, one file each, selected by name and level.

A defense is a function from gradients to gradients, seeded, with no attack
code in it, so the distributed trainer can apply the same transform and
measure its accuracy cost::

    @register_defense("gaussian")
    def gaussian(gradients: list[Tensor], level: float, generator: torch.Generator) -> list[Tensor]
"""

from __future__ import annotations

import torch

from sharegrad.registry import Registry
from sharegrad.seeding import generator as make_generator

DEFENSES: Registry = Registry("defense", __name__)
register_defense = DEFENSES.register


@register_defense("none")
def no_defense(gradients: list[torch.Tensor], level: float, generator: torch.Generator) -> list[torch.Tensor]:
    return list(gradients)


def apply_defense(name: str, level: float, gradients: list[torch.Tensor], seed: int) -> list[torch.Tensor]:
    defense = DEFENSES.get(name)
    device = gradients[0].device if gradients else "cpu"
    return defense(gradients, level, make_generator(seed, f"defense:{name}", device))
