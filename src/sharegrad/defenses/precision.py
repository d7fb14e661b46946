"""Lower-precision gradients: what a participant shares after a cast or a quantiser.

fp16 and bf16 are round trips through the format (the value the receiver
decodes); int8 is symmetric per-tensor quantisation, scale = max|g| / 127.
The format is the level, so these take level 0 only: a grid that crossed them
with other levels would run the same defense several times under different names.
"""

from __future__ import annotations

import torch

from sharegrad.defenses import register_defense
from sharegrad.errors import UserError

INT8_MAX = 127


def _check_no_level(name: str, level: float) -> None:
    if level != 0:
        raise UserError(f"defense {name} takes no level (give level 0), got {level}")


def _round_trip(gradients: list[torch.Tensor], dtype: torch.dtype) -> list[torch.Tensor]:
    return [g.to(dtype).to(g.dtype) for g in gradients]


@register_defense("fp16")
def fp16(gradients: list[torch.Tensor], level: float, generator: torch.Generator) -> list[torch.Tensor]:
    _check_no_level("fp16", level)
    return _round_trip(gradients, torch.float16)


@register_defense("bf16")
def bf16(gradients: list[torch.Tensor], level: float, generator: torch.Generator) -> list[torch.Tensor]:
    _check_no_level("bf16", level)
    return _round_trip(gradients, torch.bfloat16)


def quantise_int8(tensor: torch.Tensor) -> torch.Tensor:
    """Symmetric per-tensor int8: round(g / s) clipped to [-127, 127], decoded as q * s."""
    scale = tensor.abs().max() / INT8_MAX
    if scale == 0:
        return tensor.clone()
    return (tensor / scale).round().clamp(-INT8_MAX, INT8_MAX) * scale


@register_defense("int8")
def int8(gradients: list[torch.Tensor], level: float, generator: torch.Generator) -> list[torch.Tensor]:
    _check_no_level("int8", level)
    return [quantise_int8(g) for g in gradients]
