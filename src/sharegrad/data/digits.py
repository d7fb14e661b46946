"""scikit-learn's 1797 labelled 8 x 8 digits: the embedded training set for CPU runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sharegrad.errors import UserError


def write_digits(path: Path, seed: int = 0, test_fraction: float = 0.25) -> Path:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]  # N x 1 x 8 x 8 in [0, 1]
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target.astype(np.int64), test_size=test_fraction, random_state=seed, stratify=digits.target)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, seed=seed)
    tmp.replace(path)
    return path


def load_digits_split(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    path = Path(path)
    if not path.exists():
        raise UserError(f"digits data not found at {path}; run `sharegrad data digits`")
    if split not in ("train", "test"):
        raise UserError(f"unknown split {split!r}; choose train or test")
    with np.load(path) as archive:
        return archive[f"x_{split}"], archive[f"y_{split}"]
