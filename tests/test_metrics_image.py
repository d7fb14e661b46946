"""MSE, PSNR and SSIM against their definitions and against scikit-image."""

import math

import numpy as np
import torch
from skimage.metrics import structural_similarity

from sharegrad.metrics.image import mse, perceptual_scores, psnr, ssim


def noisy(images, variance, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (images + math.sqrt(variance) * torch.randn(images.shape, generator=g)).clamp(0, 1)


def test_ssim_equals_scikit_image_on_a_pair(embedded):
    truth, _ = embedded.tensor([0, 1])
    recon = noisy(truth, 1e-2)
    ours = ssim(recon, truth)
    for i in range(2):
        # scikit-image on H x W x C arrays: checks that ours reads the colour axis right.
        theirs = structural_similarity(truth[i].permute(1, 2, 0).numpy(), recon[i].permute(1, 2, 0).numpy(),
                                       data_range=1.0, channel_axis=-1, win_size=7)
        assert ours[i].item() == theirs
    assert torch.allclose(ssim(truth, truth), torch.ones(2, dtype=torch.float64))
    assert ours.max() < 0.95


def test_mse_and_psnr_definitions():
    truth = torch.zeros(2, 3, 4, 4)
    recon = truth.clone()
    recon[0] += 0.1
    assert torch.allclose(mse(recon, truth), torch.tensor([0.01, 0.0]))
    values = psnr(recon, truth)
    assert abs(values[0].item() - 20.0) < 1e-4 and math.isinf(values[1].item())


def test_perceptual_scores_without_weights_give_ssim_and_no_lpips(embedded):
    truth, _ = embedded.tensor([2])
    scores = perceptual_scores(noisy(truth, 1e-3), truth, None)
    assert scores[0]["lpips"] is None and 0 < scores[0]["ssim"] < 1
    assert np.isclose(scores[0]["ssim"], ssim(noisy(truth, 1e-3), truth)[0].item())
