"""Image metrics on [0, 1] images (tensors N x C x H x W)."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
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


def _box_mean(image: np.ndarray, size: int, axis: int) -> np.ndarray:
    """scipy.ndimage.uniform_filter1d (mode reflect) step by step: a running sum in float64 along each
    line, divided at each position and stored in the image's dtype: the same bits as scipy's."""
    line = np.moveaxis(image, axis, -1).astype(np.float64)
    before = size // 2
    extended = np.pad(line, [(0, 0)] * (line.ndim - 1) + [(before, size - before - 1)], mode="symmetric")
    out = np.empty_like(line)
    total = np.zeros(line.shape[:-1])
    for k in range(size):
        total = total + extended[..., k]
    out[..., 0] = total / size
    for k in range(1, line.shape[-1]):
        total = total + (extended[..., k + size - 1] - extended[..., k - 1])
        out[..., k] = total / size
    return np.moveaxis(out.astype(image.dtype), -1, axis)


def _uniform_filter(image: np.ndarray, size: int) -> np.ndarray:
    for axis in range(image.ndim):
        image = _box_mean(image, size, axis)
    return image


def _channel_ssim(x: np.ndarray, y: np.ndarray, win_size: int) -> np.float32:
    """scikit-image's structural_similarity of one H x W channel (uniform window, sample covariance, data
    range 1), the same operations in the same order and dtype."""
    points = win_size ** x.ndim
    cov_norm = points / (points - 1)
    ux, uy = _uniform_filter(x, win_size), _uniform_filter(y, win_size)
    uxx, uyy, uxy = (_uniform_filter(x * x, win_size), _uniform_filter(y * y, win_size),
                     _uniform_filter(x * y, win_size))
    vx, vy, vxy = cov_norm * (uxx - ux * ux), cov_norm * (uyy - uy * uy), cov_norm * (uxy - ux * uy)
    c1, c2 = (0.01 * 1.0) ** 2, (0.03 * 1.0) ** 2
    a1, a2, b1, b2 = 2 * ux * uy + c1, 2 * vxy + c2, ux**2 + uy**2 + c1, vx + vy + c2
    s = (a1 * a2) / (b1 * b2)
    pad = (win_size - 1) // 2
    return s[pad:-pad, pad:-pad].mean(dtype=np.float64)


def ssim(reconstruction: torch.Tensor, truth: torch.Tensor, win_size: int = SSIM_WINDOW) -> torch.Tensor:
    """Per-image SSIM as scikit-image's ``structural_similarity`` computes it (data range 1, colour axis 0
    of C x H x W, its default uniform window; tests/test_metrics_image.py checks the equality), without
    scikit-image's import of scipy.ndimage (a second at each attack job's start)."""
    recon = reconstruction.detach().float().cpu().numpy()
    ref = truth.detach().float().cpu().numpy()
    values = []
    for i in range(len(ref)):
        per_channel = np.empty(ref.shape[1], dtype=np.float32)
        for c in range(ref.shape[1]):
            per_channel[c] = _channel_ssim(ref[i, c], recon[i, c], win_size)
        values.append(float(per_channel.mean()))
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
