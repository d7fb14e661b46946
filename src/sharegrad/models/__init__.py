"""Models, one file each, selected by name: ``build_model("lenet", ...)``."""

from __future__ import annotations

import torch

from sharegrad.registry import Registry
from sharegrad.seeding import derive_seed

MODELS: Registry = Registry("model", __name__)


def register_model(name: str, modality: str = "image"):
    """Register a constructor under ``name``; ``modality`` (image or text) says which stage may use it."""

    def decorate(constructor):
        constructor.modality = modality
        return MODELS.register(name)(constructor)

    return decorate


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
