"""Inverting Gradients (Geiping et al. 2020): a second attack family on the same interface.

Cosine distance between the dummy and the shared gradients (summed over all
parameter tensors before the normalisation, as one long vector), plus a
total-variation prior, minimised with Adam on the (signed) gradient with the
learning rate cut by 10x at 3/8, 5/8 and 7/8 of the budget, and the dummy
input kept inside the image box [0, 1] after every step. Labels are not
optimised: they are read off the gradients (iDLG for batch 1, the multiset
otherwise) or given.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from sharegrad.attacks.base import AttackResult, Target, parameter_gradients, register_attack
from sharegrad.attacks.dlg import fixed_labels
from sharegrad.errors import UserError
from sharegrad.seeding import generator

DEFAULTS = {
    "iterations": 2000,
    "lr": 0.1,
    "tv_weight": 1e-4,
    "signed": True,
    "labels": "auto",  # auto: idlg for batch 1, multiset otherwise | idlg | multiset | known
    "snapshot_every": 100,
    "divergence_limit": 1.0e4,
}


def resolve(config: dict) -> dict:
    unknown = set(config) - set(DEFAULTS)
    if unknown:
        raise UserError(f"unknown inverting_gradients setting(s) {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    settings = {**DEFAULTS, **config}
    if settings["labels"] not in ("auto", "idlg", "multiset", "known"):
        raise UserError(f"inverting_gradients labels must be auto, idlg, multiset or known, not {settings['labels']!r}")
    if int(settings["iterations"]) < 0 or not settings["lr"] > 0 or settings["tv_weight"] < 0:
        raise UserError("inverting_gradients needs iterations >= 0, lr > 0 and tv_weight >= 0")
    return settings


def cosine_distance(dummy: list[torch.Tensor], shared: list[torch.Tensor]) -> torch.Tensor:
    dot = sum((d * s).sum() for d, s in zip(dummy, shared))
    norm_d = torch.sqrt(sum((d * d).sum() for d in dummy))
    norm_s = torch.sqrt(sum((s * s).sum() for s in shared))
    return 1 - dot / (norm_d * norm_s + 1e-12)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


# Adam has no line search: only the label strategy is a cell setting.
@register_attack("inverting_gradients", modality="image", settings=DEFAULTS,
                 cell_settings={"labels": DEFAULTS["labels"]})
def inverting_gradients(model: torch.nn.Module, target: Target, config: dict, *, seed: int, observer=None,
                        checkpoint=None) -> AttackResult:
    settings = resolve(config)
    device = target.shared_gradients[0].device
    shared = [g.detach() for g in target.shared_gradients]
    batch = target.input_shape[0]
    strategy = settings["labels"]
    if strategy == "auto":
        strategy = "idlg" if batch == 1 else "multiset"
    labels = fixed_labels(model, target, shared, strategy).to(device)
    onehot = F.one_hot(labels, target.num_classes).float()

    g = generator(seed, "attack:inverting_gradients:init", device)
    # Start inside the box, as the attack constrains it there.
    dummy = torch.rand(target.input_shape, generator=g, device=device).requires_grad_(True)
    iterations = int(settings["iterations"])
    optimizer = torch.optim.Adam([dummy], lr=settings["lr"])
    milestones = [int(iterations * f) for f in (3 / 8, 5 / 8, 7 / 8)]
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.1)

    loss_curve, snapshots = [], {0: dummy.detach().clone()}
    status, diverged_at, steps = "finished", None, 0
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        with torch.no_grad():
            dummy.copy_(saved["dummy"])
        optimizer.load_state_dict(saved["optimizer"])  # Adam's moments and step, and the current lr
        scheduler.load_state_dict(saved["scheduler"])
        loss_curve, snapshots, steps = saved["loss_curve"], saved["snapshots"], saved["steps"]
    elif observer:
        observer(0, dummy.detach())

    def state() -> dict:
        # the milestones are set by the budget (a Counter, which a weights-only load refuses)
        schedule = {k: v for k, v in scheduler.state_dict().items() if k != "milestones"}
        return {"dummy": dummy.detach().clone(), "optimizer": optimizer.state_dict(), "scheduler": schedule,
                "loss_curve": loss_curve, "snapshots": snapshots, "steps": steps}

    for step in range(steps + 1, iterations + 1):
        optimizer.zero_grad()
        dummy_gradients = parameter_gradients(model, dummy, onehot, create_graph=True)
        loss = cosine_distance(dummy_gradients, shared) + settings["tv_weight"] * total_variation(dummy)
        loss.backward(inputs=[dummy])  # not into the model's parameters, which nothing reads
        if settings["signed"]:
            dummy.grad.sign_()
        optimizer.step()
        scheduler.step()
        with torch.no_grad():
            dummy.clamp_(0.0, 1.0)
        value = float(loss.detach())
        loss_curve.append(value)
        steps = step
        if not math.isfinite(value) or not torch.isfinite(dummy).all():
            status, diverged_at = "diverged", step
            break
        if observer:
            observer(step, dummy.detach())
        if step % settings["snapshot_every"] == 0 or step == iterations:
            snapshots[step] = dummy.detach().clone()
        if checkpoint is not None and step < iterations:
            checkpoint.maybe_save(step, state)
    if status == "finished":
        with torch.enable_grad():
            final = cosine_distance(parameter_gradients(model, dummy, onehot), shared)
        loss_curve.append(float(final.detach()) + settings["tv_weight"] * float(total_variation(dummy.detach())))
    return AttackResult(reconstruction=dummy.detach(), labels=labels, loss_curve=loss_curve, snapshots=snapshots,
                        status=status, diverged_at=diverged_at, evaluations=steps + (status == "finished"),
                        steps=steps)


inverting_gradients.validate = resolve
