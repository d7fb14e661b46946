"""Models, one file each, selected by name: ``build_model("lenet", ...)``."""

from __future__ import annotations

import torch

from sharegrad.registry import Registry
from sharegrad.seeding import derive_seed

MODELS: Registry = Registry("model", __name__)
register_model = MODELS.register


def build_model(name: str, num_classes: int, seed: int, **options) -> torch.nn.Module:
    """Build a model with its random init drawn from ``seed`` (recorded by the caller).

    The global torch generator is seeded here because the constructors use
    torch's own ``nn.init`` functions; the generator state is restored after.
    """
    constructor = MODELS.get(name)
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(derive_seed(seed, f"model:{name}"))
        return constructor(num_classes=num_classes, **options)
    finally:
        torch.random.set_rng_state(state)
