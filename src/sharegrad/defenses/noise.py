"""Additive noise on the shared gradients, parameterised by its variance as in DLG (1e-4 .. 1e-1).

Gaussian: N(0, level). Laplacian: scale b = sqrt(level / 2), since Var = 2 b^2,
drawn as b * (E1 - E2) with E1, E2 ~ Exp(1) so that the draw uses the seeded
generator (torch.distributions does not take one). Level 0 is the identity.
"""

from __future__ import annotations

import math

import torch

from sharegrad.defenses import register_defense
from sharegrad.errors import UserError


def _check_variance(name: str, level: float) -> float:
    if not level >= 0 or not math.isfinite(level):
        raise UserError(f"defense {name}: level is the noise variance and must be a finite number >= 0, got {level}")
    return float(level)


@register_defense("gaussian")
def gaussian(gradients: list[torch.Tensor], level: float, generator: torch.Generator) -> list[torch.Tensor]:
    std = math.sqrt(_check_variance("gaussian", level))
    return [g + std * torch.randn(g.shape, generator=generator, device=g.device, dtype=g.dtype) for g in gradients]


def laplace_like(tensor: torch.Tensor, scale: float, generator: torch.Generator) -> torch.Tensor:
    first = torch.empty_like(tensor).exponential_(1.0, generator=generator)
    second = torch.empty_like(tensor).exponential_(1.0, generator=generator)
    return scale * (first - second)


@register_defense("laplacian")
def laplacian(gradients: list[torch.Tensor], level: float, generator: torch.Generator) -> list[torch.Tensor]:
    scale = math.sqrt(_check_variance("laplacian", level) / 2.0)
    return [g + laplace_like(g, scale, generator) for g in gradients]
