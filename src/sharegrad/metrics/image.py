"""Image metrics on [0, 1] images (tensors N x C x H x W)."""

from __future__ import annotations

import math

import torch


def mse(reconstruction: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Per-image mean squared error."""
    return ((reconstruction - truth) ** 2).flatten(1).mean(dim=1)


def psnr(reconstruction: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB for data range 1 (infinite for an exact copy)."""
    error = mse(reconstruction, truth)
    return torch.where(error > 0, -10.0 * torch.log10(error), torch.full_like(error, math.inf))


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """Clamp to [0, 1]: the attack's dummy input is unconstrained, the metrics are defined on images."""
    return images.detach().float().clamp(0.0, 1.0)
