"""Image metrics pinned to values (sharegrad.metrics.image), not only to their shape.

"0 for identical images, rising with noise" holds for LPIPS whether it is fed [0, 1] or [-1, 1]
images, so that test passes under the wrong scale; these pin LPIPS's values on fixed images (the
embedded tiles 0-3, seeded noise) and its scale against the network called on [-1, 1] images by hand."""

from __future__ import annotations


import pytest
import torch

from sharegrad.metrics import lpips_weights
from sharegrad.metrics.image import lpips_distance, psnr, ssim


@pytest.fixture
def weights(lpips_weights_file):
    return lpips_weights_file


def test_lpips_values_on_fixed_images(weights, embedded, noisy):
    """Seeded noise of variance 1e-2 on tiles 0-3, and each tile against the next one. Fed [0, 1] images
    as if they were [-1, 1], the first would read 0.071, 0.155, 0.010, 0.111."""
    truth, _ = embedded.tensor([0, 1, 2, 3])
    assert lpips_distance(noisy(truth, 1e-2), truth, weights).tolist() == pytest.approx(
        [0.13751, 0.16460, 0.00931, 0.18598], abs=2e-4)
    assert lpips_distance(truth[[1, 2, 3, 0]], truth, weights).tolist() == pytest.approx(
        [0.35590, 0.42322, 0.20864, 0.21412], abs=2e-4)


def test_lpips_scores_unit_images_as_the_network_scores_them_on_minus_one_to_one(weights, embedded, noisy):
    truth, _ = embedded.tensor([0, 1])
    recon = noisy(truth, 1e-2, seed=1)
    network = lpips_weights.build_lpips(weights)
    with torch.no_grad():
        by_hand = network(2 * recon - 1, 2 * truth - 1).flatten().double()
    assert torch.allclose(lpips_distance(recon, truth, weights), by_hand, atol=1e-6)


def test_psnr_and_ssim_values_on_fixed_images(embedded, noisy):
    truth, _ = embedded.tensor([0, 1, 2, 3])
    recon = noisy(truth, 1e-2)
    error = ((recon - truth) ** 2).flatten(1).mean(1)
    assert psnr(recon, truth).tolist() == pytest.approx((-10 * torch.log10(error)).tolist())
    assert float(psnr(truth * 0 + 0.5, truth * 0 + 0.6)[0]) == pytest.approx(20.0)  # MSE 1e-2, data range 1
    assert ssim(recon, truth).tolist() == pytest.approx([0.32052, 0.20735, 0.77177, 0.31022], abs=2e-4)
