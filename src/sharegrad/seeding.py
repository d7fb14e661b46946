"""Seeds: one integer per run, turned into independent generators.

Each random choice of a run (model init, dummy data, noise) draws from its own
``torch.Generator`` derived from the run seed and a purpose string, so adding a
new random choice never shifts the numbers of the existing ones.
"""

from __future__ import annotations

import hashlib
import random

import numpy as np
import torch


def derive_seed(seed: int, purpose: str) -> int:
    digest = hashlib.sha256(f"{seed}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def generator(seed: int, purpose: str, device: str | torch.device = "cpu") -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(derive_seed(seed, purpose))
    return g


def seed_everything(seed: int) -> None:
    """Seed the global generators too, for library code that uses them."""
    random.seed(seed)
    np.random.seed(seed % (1 << 32))
    torch.manual_seed(seed)
