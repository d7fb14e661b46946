"""The batched attack engine against the sequential one.

DLG's optimisation is chaotic: a relative perturbation of 1e-15 in one
evaluation (float64) grows past 1e-4 within 3 to 8 outer steps, so two
implementations can only share a 20-step trajectory if they round alike.
Hence the 20-step comparison is against sequential runs that round like the
engine: one attack at a time, torch.optim.LBFGS, the closure answered by that
attack's own (K=1) objective; the engine runs all eight together (exact
two-loop). The vectorised two-loop is compared with the exact one on random
histories; the whole batched attack with the nn.Module ``dlg`` attack over the
steps where rounding has not yet grown (float64); and the success rate over 64
attacks.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from sharegrad.attacks import Target, run_attack
from sharegrad.attacks.base import victim_gradients
from sharegrad.engine.dlg import initial_variables, run_dlg_batched
from sharegrad.engine.evaluator import GradientMatch
from sharegrad.engine.history import CompactHistory, ListHistory, RingHistory
from sharegrad.metrics.image import mse, to_unit_range
from sharegrad.models import build_model
from sharegrad.report.stats import wilson_interval

CLASSES = 10


def small_attacks(embedded, count: int, side: int = 8, first: int = 0):
    """``count`` batch-1 attacks on embedded photos shrunk to side x side (LeNet sized to match)."""
    truth, labels = embedded.tensor(list(range(first, first + count)))
    truth = F.adaptive_avg_pool2d(truth, side).to(torch.get_default_dtype())
    labels = labels % CLASSES
    models = [build_model("lenet", num_classes=CLASSES, seed=first + i, image_size=side) for i in range(count)]
    targets = [Target(victim_gradients(m, truth[i:i + 1], labels[i:i + 1], CLASSES), (1, 3, side, side), CLASSES)
               for i, m in enumerate(models)]
    return models, targets, truth, [first + i for i in range(count)]


def torch_lbfgs_curve(objective: GradientMatch, target: Target, attack: int, seed: int, config: dict) -> list[float]:
    """torch.optim.LBFGS on one attack, its closure answered by ``objective`` (row ``attack``)."""
    flat = initial_variables(target, seed, True, "cpu")
    size = objective.sizes[0]
    dummy = flat[:size].view(target.input_shape).clone().requires_grad_(True)
    label = flat[size:].view(objective.label_shape).clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([dummy, label], lr=1, history_size=100, max_iter=20,
                                  line_search_fn=None if config["line_search"] == "none" else "strong_wolfe")

    def closure():
        point = torch.cat([dummy.detach().reshape(-1), label.detach().reshape(-1)])
        losses, grads = objective([attack, attack], torch.stack([point, point]))
        dummy.grad = grads[0, :size].view_as(dummy).clone()
        label.grad = grads[0, size:].view_as(label).clone()
        return losses[0]

    curve = []
    for _ in range(config["iterations"]):
        curve.append(float(optimizer.step(closure).detach()))
        if not math.isfinite(curve[-1]) or float(dummy.detach().abs().max()) > 1e4:
            break
    return curve


@pytest.mark.parametrize("line_search", ["none", "strong_wolfe"])
def test_engine_lbfgs_reproduces_torch_lbfgs_for_20_outer_steps(embedded, line_search):
    models, targets, _, seeds = small_attacks(embedded, 8)
    config = {"iterations": 20, "line_search": line_search}
    batched = run_dlg_batched(models, targets, config, seeds, exact=True, progress=False)
    # the sequential runs: one attack at a time, torch.optim.LBFGS, the objective of that attack alone
    for k in range(8) if line_search == "none" else (0, 3, 6):
        alone = GradientMatch([models[k]], [targets[k].shared_gradients], targets[k].input_shape, CLASSES, True)
        reference = torch_lbfgs_curve(alone, targets[k], 0, seeds[k], config)
        curve = batched[k].loss_curve[:len(reference)]
        assert len(reference) == min(20, batched[k].steps)
        worst = max(abs(a - b) / abs(b) for a, b in zip(curve, reference))
        assert worst < 1e-4, f"attack {k}: relative difference {worst:.2e}"
    assert len({tuple(r.loss_curve) for r in batched}) == 8  # eight different attacks, not one repeated


def test_vectorised_two_loop_matches_torchs_two_loop():
    g = torch.Generator().manual_seed(0)
    numel, size = 50, 6
    pushes = [3, 6, 9, 0]  # short, full, wrapped around, empty
    lists = [ListHistory(size) for _ in pushes]
    ring = RingHistory(len(pushes), size, numel, "cpu")
    for k, count in enumerate(pushes):
        for _ in range(count):
            s = torch.randn(numel, generator=g)
            y = s * (1 + torch.rand(numel, generator=g))  # positive curvature
            ro = 1.0 / y.dot(s)
            lists[k].push(y, s, ro)
            ring.slot(k).push(y, s, ro)
    grads = torch.randn(len(pushes), numel, generator=g)
    h_diag = torch.rand(len(pushes), generator=g) + 0.5
    every = ring.directions(list(range(len(pushes))), grads, h_diag)
    some = ring.directions([2, 0], grads[[2, 0]], h_diag[[2, 0]])
    for k in range(len(pushes)):
        exact = lists[k].direction(grads[k], h_diag[k])
        assert torch.allclose(every[k], exact, rtol=1e-5, atol=1e-6)
    assert torch.allclose(some[0], every[2], rtol=1e-6) and torch.allclose(some[1], every[0], rtol=1e-6)
    assert not torch.allclose(every[0], -grads[0] * h_diag[0])  # the history did change the direction


def test_compact_form_gives_the_two_loop_direction():
    """Compact-form directions equal torch's two-loop ones (float64), before and after the ring wraps."""
    g = torch.Generator().manual_seed(1)
    numel, size = 40, 6
    pushes = [3, 6, 9, 0, 14]
    lists = [ListHistory(size) for _ in pushes]
    compact = CompactHistory(len(pushes), size, numel, "cpu", torch.float64)
    for k, count in enumerate(pushes):
        for _ in range(count):
            s = torch.randn(numel, generator=g, dtype=torch.float64)
            y = s * (1 + torch.rand(numel, generator=g, dtype=torch.float64))
            ro = 1.0 / y.dot(s)
            lists[k].push(y, s, ro)
            compact.slot(k).push(y, s, ro)
    grads = torch.randn(len(pushes), numel, generator=g, dtype=torch.float64)
    h_diag = torch.rand(len(pushes), generator=g, dtype=torch.float64) + 0.5
    for k in range(len(pushes)):
        exact = lists[k].direction(grads[k], h_diag[k])
        assert torch.allclose(compact.slot(k).direction(grads[k], h_diag[k]), exact, rtol=1e-10, atol=1e-12)
    assert not torch.allclose(exact, -grads[-1] * h_diag[-1])
    compact.slot(4).clear()  # a restarted attack has no pairs: steepest descent scaled by h_diag
    assert torch.equal(compact.slot(4).direction(grads[4], h_diag[4]), grads[4].neg() * h_diag[4])


def test_batched_attack_matches_sequential_dlg_until_rounding_grows(embedded):
    """The sequential attack (nn.Module autograd, torch.optim.LBFGS) against the batched engine, both in
    float64: equal (1e-4) for the first outer steps, before last-bit differences have grown."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        models, targets, truth, seeds = small_attacks(embedded, 8)
        config = {"iterations": 3, "line_search": "strong_wolfe"}
        batched = run_dlg_batched(models, targets, config, seeds, progress=False)
        for k in range(8):
            sequential = run_attack("dlg", models[k], targets[k], config, seed=seeds[k])
            assert batched[k].status == sequential.status == "finished"
            for a, b in zip(batched[k].loss_curve[:3], sequential.loss_curve[:3]):
                assert abs(a - b) / abs(b) < 1e-4
            assert torch.equal(batched[k].snapshots[0], sequential.snapshots[0])  # same seeded start
            assert torch.equal(batched[k].labels, sequential.labels) or batched[k].loss_curve[-1] > 1e-6
    finally:
        torch.set_default_dtype(previous)


def test_a_diverging_attack_leaves_the_others_identical(embedded):
    models, targets, _, seeds = small_attacks(embedded, 8)
    config = {"iterations": 4, "line_search": "strong_wolfe"}
    plain = run_dlg_batched(models, targets, config, seeds, progress=False)
    broken = list(targets)
    broken[3] = Target([g * float("nan") for g in targets[3].shared_gradients], targets[3].input_shape, CLASSES)
    forced = run_dlg_batched(models, broken, config, seeds, progress=False)
    assert forced[3].status == "diverged" and forced[3].diverged_at == 1
    assert plain[3].status == "finished"
    for k in (0, 1, 2, 4, 5, 6, 7):
        assert forced[k].loss_curve == plain[k].loss_curve
        assert forced[k].status == plain[k].status and forced[k].evaluations == plain[k].evaluations
        assert torch.equal(forced[k].reconstruction, plain[k].reconstruction)


def success_count(results, truth) -> int:
    return sum(r.status == "finished" and float(mse(to_unit_range(r.reconstruction), truth[k:k + 1])) < 1e-3
               for k, r in enumerate(results))


# In every run of the suite: 8x8 images and 3 outer steps keep 64 + 64 attacks per line
# search to about 20 s on this 2-core CPU, and the question stays the one the full-size comparison asks.
@pytest.mark.parametrize("line_search", ["strong_wolfe", "none"])
def test_success_rate_over_64_attacks_within_the_sequential_interval(embedded, line_search):
    models, targets, truth, seeds = small_attacks(embedded, 64)
    # 3 outer steps: about half the attacks succeed (strong Wolfe 31/64, none about 23/64 on this
    # machine), so the interval can tell engines apart; after 6 steps nearly every attack has
    # succeeded and any engine passes. Without a line search the engine runs lock-step (lockstep.py).
    config = {"iterations": 3, "line_search": line_search}
    batched = success_count(run_dlg_batched(models, targets, config, seeds, progress=False), truth)
    sequential = success_count([run_attack("dlg", m, t, config, seed=s) for m, t, s in zip(models, targets, seeds)],
                               truth)
    low, high = wilson_interval(sequential, 64)
    print(f"success ({line_search}): sequential {sequential}/64 (95% {low:.3f}..{high:.3f}), batched {batched}/64")
    assert low <= batched / 64 <= high


@pytest.mark.parametrize("line_search", ["strong_wolfe", "none"])
def test_stage_batched_engine_writes_the_same_records(tmp_path, embedded_root, line_search):
    from sharegrad.stages.aggregate_dlg import flatten, read_records
    from sharegrad.stages.dlg_images import ImageAttackSpec, run_chunk

    spec = ImageAttackSpec(data_root=str(embedded_root), attack_config={"iterations": 2, "line_search": line_search})
    sequential = run_chunk(spec, [0, 1], tmp_path / "sequential", "cpu")
    batched = run_chunk(spec, [0, 1], tmp_path / "batched", "cpu", engine="batched")
    for a, b in zip(sequential, batched):
        assert sorted(a) == sorted(b) and sorted(a["images"][0]) == sorted(b["images"][0])
        assert (a["attack_index"], a["seed"], a["status"]) == (b["attack_index"], b["seed"], b["status"])
        assert len(a["loss_curve"]) == len(b["loss_curve"]) and len(a["mse_curve"]) == len(b["mse_curve"]) == 3
        assert a["loss_curve"][0] == pytest.approx(b["loss_curve"][0], rel=1e-5)
        assert (tmp_path / "batched" / f"attack~{b['attack_index']}.png").exists()
        assert a["engine"] == "sequential" and b["engine"] == "batched"
    table, _ = flatten(read_records([tmp_path / "sequential", tmp_path / "batched"]))
    assert sorted(table.engine) == ["batched", "batched", "sequential", "sequential"]
    with pytest.raises(Exception, match="engine"):
        run_chunk(spec, [0], tmp_path / "x", "cpu", engine="turbo")


def test_a_chunk_of_one_attack_runs_sequentially(tmp_path, embedded_root):
    from sharegrad.stages.dlg_images import ImageAttackSpec, run_chunk

    spec = ImageAttackSpec(data_root=str(embedded_root), attack_config={"iterations": 1, "line_search": "none"})
    (record,) = run_chunk(spec, [3], tmp_path, "cpu", engine="batched")
    assert record["engine"] == "sequential" and record["attack_index"] == 3

