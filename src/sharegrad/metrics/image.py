"""Image metrics on [0, 1] images (tensors N x C x H x W)."""

from __future__ import annotations

import functools
import math
from pathlib import Path

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


# SSIM's window: 7 x 7 (scikit-image's default, Wang et al.'s uniform variant) fits a
# 32 x 32 image with room for 26 x 26 full windows; the 11 x 11 Gaussian window
# of the original paper would average over a third of the image.
SSIM_WINDOW = 7


def ssim(reconstruction: torch.Tensor, truth: torch.Tensor, win_size: int = SSIM_WINDOW) -> torch.Tensor:
    """Per-image SSIM by scikit-image's ``structural_similarity`` (data range 1, colour axis 0 of C x H x W)."""
    from skimage.metrics import structural_similarity

    recon = reconstruction.detach().float().cpu().numpy()
    ref = truth.detach().float().cpu().numpy()
    values = [structural_similarity(ref[i], recon[i], data_range=1.0, channel_axis=0, win_size=win_size)
              for i in range(len(ref))]
    return torch.tensor(values, dtype=torch.float64)


@functools.lru_cache(maxsize=2)
def lpips_model(weights: str) -> torch.nn.Module:
    """The LPIPS network for a weights file, built once per process."""
    from sharegrad.metrics.lpips_weights import build_lpips

    return build_lpips(Path(weights))


def lpips_distance(reconstruction: torch.Tensor, truth: torch.Tensor, weights: str | Path) -> torch.Tensor:
    """Per-image LPIPS (AlexNet, v0.1) of [0, 1] images, at their own resolution; 0 for identical images."""
    model = lpips_model(str(weights))
    with torch.no_grad():
        value = model(reconstruction.detach().float().cpu(), truth.detach().float().cpu(), normalize=True)
    return value.flatten().double()


def perceptual_scores(reconstruction: torch.Tensor, truth: torch.Tensor,
                      lpips_weights: str | Path | None) -> list[dict]:
    """Per image: ``ssim`` and ``lpips`` (None when no weights file was given) of matched [0, 1] images."""
    ssims = ssim(reconstruction, truth).tolist()
    lpipses = lpips_distance(reconstruction, truth, lpips_weights).tolist() if lpips_weights else [None] * len(ssims)
    return [{"ssim": s, "lpips": p} for s, p in zip(ssims, lpipses)]
