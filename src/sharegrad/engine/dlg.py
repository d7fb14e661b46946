"""DLG (attacks/dlg.py) for K attacks at once, through the batched engine.

Per attack exactly what the sequential attack does: the same seeded dummy
input and label, the same label strategy, the same L-BFGS settings, the loss
at the start of each outer step, snapshots, observer calls, divergence check
and final loss. Only the arithmetic is shared: the K gradient-match
evaluations of a round are one vectorised call, and (``exact=False``) the K
two-loop directions are one batched call.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from tqdm import tqdm

from sharegrad.attacks.base import AttackResult, Target
from sharegrad.attacks.dlg import LINE_SEARCHES, fixed_labels, resolve
from sharegrad.engine.evaluator import GradientMatch
from sharegrad.engine.history import CompactHistory, ListHistory, RingHistory
from sharegrad.engine.lbfgs import LBFGSSettings, LBFGSState, lbfgs_step
from sharegrad.engine.scheduler import drive
from sharegrad.errors import UserError
from sharegrad.seeding import generator


def lbfgs_settings(settings: dict) -> LBFGSSettings:
    return LBFGSSettings(lr=settings["lr"], max_iter=settings["max_iter"], history_size=settings["history_size"],
                         line_search=LINE_SEARCHES[settings["line_search"]])


def initial_variables(target: Target, seed: int, joint: bool, device) -> torch.Tensor:
    """The sequential attack's dummy input (and label), drawn in the same order, flattened."""
    g = generator(seed, "attack:dlg:init", device)
    dummy = torch.randn(target.input_shape, generator=g, device=device)
    parts = [dummy.reshape(-1)]
    if joint:
        parts.append(torch.randn((target.input_shape[0], target.num_classes), generator=g, device=device).reshape(-1))
    return torch.cat(parts)


HISTORIES = {"compact": CompactHistory, "two_loop": RingHistory}


def run_dlg_batched(models: list[torch.nn.Module], targets: list[Target], config: dict, seeds: list[int],
                    observers: list | None = None, exact: bool = False, progress: bool = True,
                    history: str = "compact", compile: bool = False, factor_head: bool = True,
                    stats: dict | None = None) -> list[AttackResult]:
    """K DLG attacks; ``models[k]`` is attack k's victim model, ``seeds[k]`` its seed.

    ``exact``: per-attack two-loop directions with torch's own ops (bit for bit
    torch.optim.LBFGS given the same evaluations) instead of one batched call;
    otherwise ``history`` picks the batched direction: ``compact`` (L-BFGS's
    compact form, a few large products) or ``two_loop`` (the recursion, batched).
    ``compile``: the K gradient-match evaluations through torch.compile (needs a C++
    compiler on CPU, Triton on GPU; tens of seconds of compilation per job): a
    property of the machine, not of the experiment, so it comes from the profile.
    ``factor_head=False`` differentiates through the materialised fc gradient (what the
    factored form saves, for the benchmark). ``stats``, if given, receives the compilation
    time (``compile_s``)."""
    if not (len(models) == len(targets) == len(seeds)) or not models:
        raise UserError("the batched engine needs one model, target and seed per attack")
    if len({(t.input_shape, t.num_classes) for t in targets}) != 1:
        raise UserError("a batch of attacks must share input shape and class count")
    settings = resolve(config)
    observers = observers or [None] * len(models)
    target0 = targets[0]
    device = target0.shared_gradients[0].device
    joint = settings["labels"] == "joint"
    shared = [[g.detach() for g in t.shared_gradients] for t in targets]

    onehot, fixed = None, []
    if not joint:
        for model, target, grads in zip(models, targets, shared):
            fixed.append(fixed_labels(model, target, grads, settings["labels"]).to(device))
        onehot = torch.stack([F.one_hot(labels, target0.num_classes).float() for labels in fixed])
    objective = GradientMatch(models, shared, target0.input_shape, target0.num_classes, joint, onehot,
                              factor_head=factor_head, compile=compile)
    lbfgs = lbfgs_settings(settings)
    variables = [initial_variables(t, s, joint, device) for t, s in zip(targets, seeds)]
    if history not in HISTORIES:
        raise UserError(f"unknown L-BFGS history {history!r}; choose one of {', '.join(HISTORIES)}")
    ring = None if exact else HISTORIES[history](len(models), lbfgs.history_size, objective.numel, device,
                                                 variables[0].dtype)
    iterations = int(settings["iterations"])
    bar = tqdm(total=len(models) * iterations, desc=f"dlg batched K={len(models)}", unit="step",
               disable=not progress, leave=False)

    def attack(k: int):
        x = variables[k]
        dummy = x[:objective.sizes[0]].view(target0.input_shape)
        state = LBFGSState(history=ListHistory(lbfgs.history_size) if exact else ring.slot(k), sizes=objective.sizes)
        observer = observers[k]
        loss_curve: list[float] = []
        snapshots = {0: dummy.detach().clone()}
        if observer:
            observer(0, dummy.detach())
        status, diverged_at, steps = "finished", None, 0
        for step in range(1, iterations + 1):
            loss = float((yield from lbfgs_step(x, state, lbfgs)).detach())
            loss_curve.append(loss)
            steps = step
            bar.update(1)
            image_max = float(dummy.abs().max())
            if not math.isfinite(loss) or not math.isfinite(image_max) or image_max > settings["divergence_limit"]:
                status, diverged_at = "diverged", step
                bar.update(iterations - step)
                break
            if observer:
                observer(step, dummy.detach())
            if step % settings["snapshot_every"] == 0 or step == iterations:
                snapshots[step] = dummy.detach().clone()
        return AttackResult(reconstruction=dummy.detach(), labels=torch.empty(0), loss_curve=loss_curve,
                            snapshots=snapshots, status=status, diverged_at=diverged_at,
                            evaluations=state.func_evals, steps=steps)

    results = drive({k: attack(k) for k in range(len(models))}, objective,
                    None if exact else getattr(ring, "directions", None))
    bar.close()
    if stats is not None:
        stats["compile_s"] = objective.compile_seconds
    results = [results[k] for k in range(len(models))]

    finished = [k for k, r in enumerate(results) if r.status == "finished"]
    if finished:
        rows = finished if len(finished) > 1 else finished * 2
        final = objective.values(rows, torch.stack([variables[k] for k in rows]))
        for i, k in enumerate(finished):
            results[k].loss_curve.append(float(final[i]))
            results[k].evaluations += 1
    for k, result in enumerate(results):
        if joint:
            label = variables[k][objective.sizes[0]:].view(objective.label_shape)
            result.labels = F.softmax(label, dim=-1).argmax(dim=-1)
        else:
            result.labels = fixed[k]
    return results
