"""DLG (attacks/dlg.py) for K attacks at once, through the batched engine.

Per attack exactly what the sequential attack does: the same seeded dummy
input and label, the same label strategy, the same L-BFGS settings, the loss
at the start of each outer step, snapshots, observer calls, divergence check
and final loss. Only the arithmetic is shared: the K gradient-match
evaluations of a round are one vectorised call; without a line search the K
L-BFGS updates are one too (``lockstep.py``), with one each attack runs its own
L-BFGS coroutine (``lbfgs.py``), its direction from a shared batched history
unless ``exact``.
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
from sharegrad.engine.lockstep import lockstep_lbfgs
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


class _Book:
    """One attack's record through its outer steps, as the sequential attack keeps it: the loss
    at the start of each step, the divergence check, observer calls and snapshots."""

    def __init__(self, dummy: torch.Tensor, observer, iterations: int, settings: dict, bar, saved: dict | None = None):
        self.dummy, self.observer, self.iterations, self.settings, self.bar = dummy, observer, iterations, settings, bar
        self.loss_curve: list[float] = []
        self.snapshots = {0: dummy.detach().clone()}
        self.status, self.diverged_at, self.steps = "finished", None, 0
        self.done = iterations == 0
        if saved is not None:  # resumed from a checkpoint, taken between two outer steps
            self.loss_curve, self.snapshots, self.steps = saved["loss_curve"], saved["snapshots"], saved["steps"]
            bar.update(self.steps)
        elif observer:
            observer(0, dummy.detach())

    def state_dict(self) -> dict:
        return {"loss_curve": self.loss_curve, "snapshots": self.snapshots, "steps": self.steps}

    def step_done(self, loss: float) -> bool:
        """Records an outer step that started from ``loss``; True when the attack stops here."""
        self.loss_curve.append(loss)
        self.steps += 1
        self.bar.update(1)
        image_max = float(self.dummy.abs().max())
        if not math.isfinite(loss) or not math.isfinite(image_max) or image_max > self.settings["divergence_limit"]:
            self.status, self.diverged_at, self.done = "diverged", self.steps, True
            self.bar.update(self.iterations - self.steps)
            return True
        self.bar.set_postfix(loss=f"{loss:.3g}", refresh=False)  # the last attack to step: one bar per chunk
        if self.observer and getattr(self.observer, "takes_loss", False):
            self.observer(self.steps, self.dummy.detach(), loss=loss)
        elif self.observer:
            self.observer(self.steps, self.dummy.detach())
        if self.steps % self.settings["snapshot_every"] == 0 or self.steps == self.iterations:
            self.snapshots[self.steps] = self.dummy.detach().clone()
        self.done = self.steps == self.iterations
        return self.done

    def result(self, evaluations: int) -> AttackResult:
        return AttackResult(reconstruction=self.dummy.detach(), labels=torch.empty(0), loss_curve=self.loss_curve,
                            snapshots=self.snapshots, status=self.status, diverged_at=self.diverged_at,
                            evaluations=evaluations, steps=self.steps)


HISTORIES = {"compact": CompactHistory, "two_loop": RingHistory}


def run_dlg_batched(models: list[torch.nn.Module], targets: list[Target], config: dict, seeds: list[int],
                    observers: list | None = None, exact: bool = False, progress: bool = True,
                    history: str = "compact", compile: bool = False, factor_head: bool = True,
                    stats: dict | None = None, lockstep: bool | None = None,
                    history_group: int | None = None, checkpoints: list | None = None) -> list[AttackResult]:
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
    time (``compile_s``). ``lockstep`` (default: whenever it applies, i.e. no line search,
    compact history, not exact): the K attacks' L-BFGS as one vectorised update per round
    (``lockstep.py``; ``history_group``: attacks per call of its small history operations,
    default all) instead of one coroutine per attack. ``checkpoints[k]``
    (``sharegrad.checkpoint.AttackCheckpoint`` or None): attack k resumes from it and saves to
    it at the end of its outer steps; each attack's numbers depend on its own rows only, so it
    may resume at another step than the others."""
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
                              factor_head=factor_head, compile=compile, fixed_shape=True)
    lbfgs = lbfgs_settings(settings)
    variables = [initial_variables(t, s, joint, device) for t, s in zip(targets, seeds)]
    checkpoints = checkpoints or [None] * len(models)
    saved = [c.load() if c is not None else None for c in checkpoints]
    for k, state in enumerate(saved):
        if state is not None:
            variables[k].copy_(state["variables"])
    if history not in HISTORIES:
        raise UserError(f"unknown L-BFGS history {history!r}; choose one of {', '.join(HISTORIES)}")
    can_lockstep = lbfgs.line_search is None and not exact and history == "compact"
    if lockstep and not can_lockstep:
        raise UserError("the lock-step engine runs L-BFGS without line search, with the compact history, "
                        "and not exact")
    use_lockstep = can_lockstep if lockstep is None else lockstep
    ring = None
    if use_lockstep:
        x = torch.stack(variables)
        variables = list(x)  # views of x's rows, which the lock-step run updates in place
    elif not exact:
        ring = HISTORIES[history](len(models), lbfgs.history_size, objective.numel, device, variables[0].dtype)
    iterations = int(settings["iterations"])
    bar = tqdm(total=len(models) * iterations, desc=f"dlg batched K={len(models)}", unit="step",
               disable=not progress, leave=False)
    books = [_Book(variables[k][:objective.sizes[0]].view(target0.input_shape), observers[k], iterations,
                   settings, bar, saved[k] and saved[k]["book"]) for k in range(len(models))]

    def due(k: int) -> bool:
        c = checkpoints[k]
        return c is not None and c.policy.enabled and c.due(books[k].steps)

    if use_lockstep:
        def step_end(attacks: list[int], losses: list[float]) -> list[int]:
            return [k for k, loss in zip(attacks, losses) if books[k].step_done(loss)]

        def save(attacks: list[int], lbfgs_state) -> None:
            for k in attacks:
                if due(k):
                    checkpoints[k].save(books[k].steps, {"variables": variables[k].clone(),
                                                         "book": books[k].state_dict(), "lbfgs": lbfgs_state(k)})

        counts = [0] * len(models)
        if iterations:
            resume = {k: state["lbfgs"] for k, state in enumerate(saved) if state is not None}
            counts = lockstep_lbfgs(objective, x, lbfgs, step_end, history_group=history_group, resume=resume,
                                    save=save if any(c is not None for c in checkpoints) else None).tolist()
        results = [book.result(int(counts[k])) for k, book in enumerate(books)]
    else:
        fields = ("n_iter", "func_evals", "d", "t", "h_diag", "prev_flat_grad", "prev_loss")

        def attack(k: int):
            state = LBFGSState(history=ListHistory(lbfgs.history_size) if exact else ring.slot(k),
                               sizes=objective.sizes)
            if saved[k] is not None:
                for name in fields:
                    setattr(state, name, saved[k]["lbfgs"][name])
                state.history.load_state_dict(saved[k]["history"])
            while not books[k].done:
                loss = float((yield from lbfgs_step(variables[k], state, lbfgs)).detach())
                books[k].step_done(loss)
                if not books[k].done and due(k):
                    checkpoints[k].save(books[k].steps, {
                        "variables": variables[k].clone(), "book": books[k].state_dict(),
                        "lbfgs": {name: getattr(state, name) for name in fields},
                        "history": state.history.state_dict()})
            return books[k].result(state.func_evals)

        results = drive({k: attack(k) for k in range(len(models))}, objective,
                        None if exact else getattr(ring, "directions", None))
        results = [results[k] for k in range(len(models))]
    bar.close()
    if stats is not None:
        stats["compile_s"] = objective.compile_seconds

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
