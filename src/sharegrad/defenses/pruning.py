"""Gradient pruning: zero the smallest-magnitude fraction of the gradients before sharing them.

``pruning`` (DLG's defense) ranks entries within each tensor; ``pruning_global``
ranks all entries of all tensors against one threshold, so layers with small
gradients lose more. The level is the fraction zeroed, in [0, 1): exactly
round(level * n) entries (ties broken by position), not "all below a
threshold", so the stated fraction is what is removed.
"""

from __future__ import annotations

import math

import torch

from sharegrad.defenses import register_defense
from sharegrad.errors import UserError


def _check_ratio(name: str, level: float) -> float:
    if not 0 <= level < 1:
        raise UserError(f"defense {name}: level is the fraction of entries zeroed and must be in [0, 1), got {level}")
    return float(level)


def _zero_smallest(flat: torch.Tensor, count: int) -> torch.Tensor:
    pruned = flat.clone()
    if count > 0:
        smallest = torch.topk(flat.abs(), count, largest=False, sorted=False).indices
        pruned[smallest] = 0
    return pruned


def pruned_count(numel: int, ratio: float) -> int:
    return min(numel, int(math.floor(ratio * numel + 0.5)))


@register_defense("pruning")
def pruning(gradients: list[torch.Tensor], level: float, generator: torch.Generator) -> list[torch.Tensor]:
    ratio = _check_ratio("pruning", level)
    return [_zero_smallest(g.flatten(), pruned_count(g.numel(), ratio)).view_as(g) for g in gradients]


@register_defense("pruning_global")
def pruning_global(gradients: list[torch.Tensor], level: float, generator: torch.Generator) -> list[torch.Tensor]:
    ratio = _check_ratio("pruning_global", level)
    if not gradients:
        return []
    flat = torch.cat([g.flatten() for g in gradients])
    pruned = _zero_smallest(flat, pruned_count(flat.numel(), ratio))
    return [part.view_as(g) for part, g in zip(torch.split(pruned, [g.numel() for g in gradients]), gradients)]
