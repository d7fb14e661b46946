"""Each defense against its definition: noise variance, pruned fraction, precision error, seeding."""

import math

import pytest
import torch

from sharegrad.defenses import DEFENSES, apply_defense
from sharegrad.errors import UserError

N = 100_000


def zeros(n=N):
    return [torch.zeros(n)]


@pytest.mark.parametrize("name", ["gaussian", "laplacian"])
@pytest.mark.parametrize("variance", [1e-4, 1e-3, 1e-2, 1e-1])
def test_noise_variance_is_the_level(name, variance):
    noise = apply_defense(name, variance, zeros(), seed=3)[0].double()
    assert abs(noise.var().item() / variance - 1) < 0.05
    assert abs(noise.mean().item()) < 5 * math.sqrt(variance / N)


def test_laplacian_has_laplace_tails_and_gaussian_does_not():
    def excess_kurtosis(x):
        x = x.double() - x.double().mean()
        return (x.pow(4).mean() / x.pow(2).mean() ** 2).item() - 3

    assert abs(excess_kurtosis(apply_defense("laplacian", 1e-2, zeros(), seed=1)[0]) - 3) < 0.6
    assert abs(excess_kurtosis(apply_defense("gaussian", 1e-2, zeros(), seed=1)[0])) < 0.2


@pytest.mark.parametrize("name", ["gaussian", "laplacian"])
def test_noise_is_seeded_and_leaves_the_input_alone(name):
    grads = [torch.ones(50), torch.ones(3, 4)]
    a, b, c = (apply_defense(name, 1e-2, grads, seed=s) for s in (7, 7, 8))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a[0], c[0])
    assert all(torch.equal(g, torch.ones_like(g)) for g in grads)
    assert torch.equal(apply_defense(name, 0, grads, seed=7)[1], grads[1])


@pytest.mark.parametrize("ratio", [0.01, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7])
def test_pruning_zeroes_the_stated_fraction_of_each_tensor_smallest_first(ratio):
    g = torch.Generator().manual_seed(0)
    grads = [torch.randn(1000, generator=g) + 0.01, torch.randn(12, 3, 5, 5, generator=g) * 100]
    pruned = apply_defense("pruning", ratio, grads, seed=0)
    for before, after in zip(grads, pruned):
        dropped = after == 0
        assert int(dropped.sum()) == round(ratio * before.numel())
        assert before.abs()[~dropped].min() >= before.abs()[dropped].max()
        assert torch.equal(after[~dropped], before[~dropped])


def test_global_pruning_uses_one_threshold_across_tensors():
    g = torch.Generator().manual_seed(1)
    small, large = torch.randn(1000, generator=g) * 0.01, torch.randn(1000, generator=g)
    pruned = apply_defense("pruning_global", 0.5, [small, large], seed=0)
    both_before, both_after = torch.cat([small, large]), torch.cat([p.flatten() for p in pruned])
    dropped = both_after == 0
    assert int(dropped.sum()) == 1000
    assert both_before.abs()[~dropped].min() >= both_before.abs()[dropped].max()
    # Per-tensor pruning would drop half of each; the global threshold empties the small tensor first.
    assert int((pruned[0] == 0).sum()) > 900


def test_fp16_round_trip_error_within_fp16_unit_roundoff():
    g = torch.Generator().manual_seed(2)
    # fp16's normal range (6.1e-5 .. 65504): below it the format is subnormal, with a larger relative error.
    sign = torch.where(torch.rand(N, generator=g) < 0.5, -1.0, 1.0)
    x = sign * 10 ** torch.empty(N).uniform_(-4, 4, generator=g)
    out = apply_defense("fp16", 0, [x], seed=0)[0]
    relative = ((out - x).abs() / x.abs()).max().item()
    assert relative <= torch.finfo(torch.float16).eps / 2 * (1 + 1e-6)
    assert relative > 0  # it did round
    bf = apply_defense("bf16", 0, [x], seed=0)[0]
    assert ((bf - x).abs() / x.abs()).max().item() <= torch.finfo(torch.bfloat16).eps / 2 * (1 + 1e-6)


def test_int8_is_symmetric_per_tensor_quantisation():
    g = torch.Generator().manual_seed(4)
    grads = [torch.randn(5000, generator=g), torch.randn(200, generator=g) * 1e-3, torch.zeros(7)]
    out = apply_defense("int8", 0, grads, seed=0)
    for before, after in zip(grads, out):
        scale = before.abs().max() / 127
        if scale == 0:
            assert torch.equal(after, before)
            continue
        assert (after - before).abs().max() <= scale / 2 * (1 + 1e-5)
        codes = after / scale
        assert torch.allclose(codes, codes.round(), atol=1e-3) and codes.abs().max() <= 127 + 1e-3
        assert len(torch.unique(codes.round())) <= 255


def test_every_family_is_registered_and_bad_levels_are_refused():
    assert {"none", "gaussian", "laplacian", "fp16", "bf16", "int8", "pruning", "pruning_global"} <= set(DEFENSES.names())
    grads = [torch.ones(10)]
    for name, level in [("gaussian", -1.0), ("laplacian", math.inf), ("pruning", 1.0), ("pruning_global", -0.1),
                        ("fp16", 0.5), ("int8", 1.0)]:
        with pytest.raises(UserError, match=name):
            apply_defense(name, level, grads, seed=0)
    with pytest.raises(UserError, match="unknown defense"):
        apply_defense("dropout", 0.1, grads, seed=0)
