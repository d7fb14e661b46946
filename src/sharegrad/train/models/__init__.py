"""Models the trainer builds by name, one file each, registered like the attack models:
``@register_train_model("digits_cnn")`` on a constructor ``(num_classes, in_channels) -> nn.Module``.
A config's ``dtc.setups.*.model`` and ``wan.setup.model`` are checked against this registry
(``sharegrad.pipeline.common``) before any job starts.
"""

from __future__ import annotations

import torch
from torch import nn

from sharegrad.registry import Registry
from sharegrad.seeding import derive_seed

TRAIN_MODELS: Registry = Registry("training model", __name__)
register_train_model = TRAIN_MODELS.register


def build_train_model(name: str, num_classes: int, in_channels: int, seed: int) -> nn.Module:
    """The same seed gives the same initial weights on every rank (no broadcast needed)."""
    constructor = TRAIN_MODELS.get(name)  # unknown: a UserError naming the registered ones
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(derive_seed(seed, f"train-model:{name}"))
        return constructor(num_classes, in_channels)
    finally:
        torch.random.set_rng_state(state)
