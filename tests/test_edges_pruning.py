"""Gradient pruning where ratio x n is not a whole number (sharegrad.defenses.pruning).

The defense zeroes exactly round(ratio x n) entries, halves rounded up (2.5 -> 3, as its docstring
says), so the stated fraction is what is removed. Truncation (2.5 -> 2), Python's round (2.5 -> 2,
to even) or a ceiling (3.3 -> 4) each change the count at one of these sizes."""

from __future__ import annotations

import pytest
import torch

from sharegrad.defenses import apply_defense
from sharegrad.defenses.pruning import pruned_count


@pytest.mark.parametrize("numel, ratio, zeroed", [
    (10, 0.25, 3),  # 2.5 -> 3
    (10, 0.45, 5),  # 4.5 -> 5 (round to even: 4)
    (7, 0.5, 4),  # 3.5 -> 4
    (10, 0.33, 3),  # 3.3 -> 3
    (7, 0.1, 1),  # 0.7 -> 1
    (9, 0.05, 0),  # 0.45 -> 0
    (3, 0.99, 3),  # 2.97 -> 3, never more than the tensor holds
])
def test_pruned_count_rounds_half_up(numel, ratio, zeroed):
    assert pruned_count(numel, ratio) == zeroed


@pytest.mark.parametrize("name", ["pruning", "pruning_global"])
def test_pruning_zeroes_the_rounded_count_of_smallest_entries(name):
    # distinct magnitudes 1..10 and 1..7, signs alternating: which entries are smallest is unambiguous
    first = torch.tensor([(-1) ** i * (i + 1.0) for i in range(10)])
    second = torch.tensor([(-1) ** i * (i + 1.5) for i in range(7)])
    pruned = apply_defense(name, 0.25, [first, second], 0)
    if name == "pruning":  # per tensor: 2.5 -> 3 of 10, 1.75 -> 2 of 7
        assert [int((p == 0).sum()) for p in pruned] == [3, 2]
        assert torch.equal(pruned[0][3:], first[3:]) and torch.equal(pruned[1][2:], second[2:])
    else:  # over all 17 entries: 4.25 -> 4, the four smallest magnitudes 1, 1.5, 2, 2.5
        assert int(sum((p == 0).sum() for p in pruned)) == 4
        assert [int((p == 0).sum()) for p in pruned] == [2, 2]
