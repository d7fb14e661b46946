"""Deep Leakage from Gradients (Zhu, Liu, Han 2019), Algorithm 1, as published.

Dummy input and dummy label from N(0, 1); the dummy label is used as
softmax(y'); the objective is the summed squared distance between the dummy
gradients and the shared ones; L-BFGS (lr 1, history 100, max_iter 20 per
outer step). ``line_search`` is ``none`` as in the original code, or
``strong_wolfe``. With ``labels: idlg`` the label is read off the gradients
first (iDLG) and only the input is optimised.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from sharegrad.attacks.base import (AttackResult, Target, parameter_gradients, register_attack,
                                   squared_gradient_distance)
from sharegrad.attacks.labels import idlg_label, multiset_labels
from sharegrad.errors import UserError
from sharegrad.seeding import generator

DEFAULTS = {
    "iterations": 300,
    "line_search": "none",
    "lr": 1.0,
    "history_size": 100,
    "max_iter": 20,
    "labels": "joint",  # joint (DLG) | idlg (batch 1) | multiset (any batch) | known (target.known_labels)
    "snapshot_every": 10,
    "divergence_limit": 1.0e4,  # |dummy pixel| beyond this counts as an exploding image
}
LINE_SEARCHES = {"none": None, "strong_wolfe": "strong_wolfe"}
LABEL_STRATEGIES = ("joint", "idlg", "multiset", "known")


gradient_distance = squared_gradient_distance  # the published loss; see attacks/base.py


def resolve(config: dict) -> dict:
    unknown = set(config) - set(DEFAULTS)
    if unknown:
        raise UserError(f"unknown DLG setting(s) {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    settings = {**DEFAULTS, **config}
    if settings["line_search"] not in LINE_SEARCHES:
        raise UserError(f"line_search must be one of {sorted(LINE_SEARCHES)}, not {settings['line_search']!r}")
    if settings["labels"] not in LABEL_STRATEGIES:
        raise UserError(f"labels must be one of {LABEL_STRATEGIES}, not {settings['labels']!r}")
    if int(settings["iterations"]) < 0:
        raise UserError("iterations must be >= 0")
    return settings


def published_lbfgs(variables: list[torch.Tensor], settings: dict) -> torch.optim.LBFGS:
    """DLG's optimiser: L-BFGS with the settings' lr, history, max_iter and line search."""
    return torch.optim.LBFGS(variables, lr=settings["lr"], history_size=settings["history_size"],
                             max_iter=settings["max_iter"], line_search_fn=LINE_SEARCHES[settings["line_search"]])


def fixed_labels(model, target: Target, shared: list[torch.Tensor], strategy: str) -> torch.Tensor:
    """Labels decided before the optimisation: read off the gradients, or given."""
    batch = target.input_shape[0]
    if strategy == "idlg":
        if batch != 1:
            raise UserError("labels: idlg reads one label and needs batch size 1; use multiset for larger batches")
        return idlg_label(model, shared, target.num_classes)
    if strategy == "multiset":
        return multiset_labels(model, shared, target.num_classes, target.input_shape)
    if target.known_labels is None:
        raise UserError("labels: known needs target.known_labels")
    return target.known_labels


# Sweeps line search and label strategy per cell (the pipeline spells both in its paths).
@register_attack("dlg", modality="image", settings=DEFAULTS,
                 cell_settings={"line_search": DEFAULTS["line_search"], "labels": DEFAULTS["labels"]})
def dlg(model: torch.nn.Module, target: Target, config: dict, *, seed: int, observer=None,
        checkpoint=None) -> AttackResult:
    """The released code's form: the whole dummy batch is one set of variables of one L-BFGS."""
    return optimise(model, target, resolve(config), seed=seed, observer=observer, checkpoint=checkpoint,
                    window=None)


def optimise(model: torch.nn.Module, target: Target, settings: dict, *, seed: int, observer=None,
             checkpoint=None, window: int | None = None) -> AttackResult:
    """DLG's loop. ``window=None``: one L-BFGS over the whole dummy batch (joint). ``window=w``: the
    paper's batched form (attacks/dlg_per_sample.py), one L-BFGS per sample of the batch, outer step k
    stepping sample ((k - 1) // w) mod N; the loss is always the whole batch's gradient match."""
    device = target.shared_gradients[0].device
    shared = [g.detach() for g in target.shared_gradients]
    # The same draws, in the same order, whatever the form: both forms start from the same dummy batch.
    g = generator(seed, "attack:dlg:init", device)
    dummy = torch.randn(target.input_shape, generator=g, device=device)
    batch = target.input_shape[0]
    joint_labels = settings["labels"] == "joint"
    if joint_labels:
        dummy_label = torch.randn((batch, target.num_classes), generator=g, device=device)
    else:
        fixed = fixed_labels(model, target, shared, settings["labels"])
        onehot = F.one_hot(fixed.to(device), target.num_classes).float()

    if window is None:
        inputs = [dummy.requires_grad_(True)]
        label_rows = [dummy_label.requires_grad_(True)] if joint_labels else []
        blocks = [inputs + label_rows]
    else:
        # Leaves of their own per sample, so each sample's L-BFGS moves only its rows.
        inputs = [dummy[i:i + 1].clone().requires_grad_(True) for i in range(batch)]
        label_rows = [dummy_label[i:i + 1].clone().requires_grad_(True) for i in range(batch)] if joint_labels else []
        blocks = [[inputs[i]] + ([label_rows[i]] if joint_labels else []) for i in range(batch)]
    variables = [v for block in blocks for v in block]
    optimizers = [published_lbfgs(block, settings) for block in blocks]

    def current_input() -> torch.Tensor:
        return inputs[0] if len(inputs) == 1 else torch.cat(inputs)

    def soft_labels() -> torch.Tensor:
        if not joint_labels:
            return onehot
        return F.softmax(label_rows[0] if len(label_rows) == 1 else torch.cat(label_rows), dim=-1)

    evaluations = 0

    def closure_for(index: int):
        optimizer, block = optimizers[index], blocks[index]

        def closure():
            nonlocal evaluations
            evaluations += 1
            optimizer.zero_grad()
            dummy_gradients = parameter_gradients(model, current_input(), soft_labels(), create_graph=True)
            loss = gradient_distance(dummy_gradients, shared)
            # only the stepping block's variables: a bare backward() would also run the second-order backward
            # into every model parameter and accumulate it there (the DLG repository does), which nothing reads
            loss.backward(inputs=block)
            return loss
        return closure

    closures = [closure_for(i) for i in range(len(blocks))]
    loss_curve: list[float] = []
    snapshots = {0: current_input().detach().clone()}
    status, diverged_at, steps = "finished", None, 0
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        with torch.no_grad():
            for variable, value in zip(variables, saved["variables"]):
                variable.copy_(value)
        states = saved["optimizers"] if "optimizers" in saved else [saved["optimizer"]]
        for optimizer, optimizer_state in zip(optimizers, states):
            optimizer.load_state_dict(optimizer_state)
        loss_curve, snapshots, steps, evaluations = (saved["loss_curve"], saved["snapshots"], saved["steps"],
                                                     saved["evaluations"])
    elif observer:
        observer(0, current_input().detach())

    def state() -> dict:
        # one optimiser is saved as the joint attack always saved it, so its checkpoints stay readable
        optimizer_states = ({"optimizer": optimizers[0].state_dict()} if len(optimizers) == 1
                            else {"optimizers": [o.state_dict() for o in optimizers]})
        return {"variables": [v.detach().clone() for v in variables], **optimizer_states,
                "loss_curve": loss_curve, "snapshots": snapshots, "steps": steps, "evaluations": evaluations}

    for step in range(steps + 1, int(settings["iterations"]) + 1):
        index = 0 if window is None else ((step - 1) // window) % batch
        loss = float(optimizers[index].step(closures[index]).detach())
        loss_curve.append(loss)
        steps = step
        image = current_input().detach()
        image_max = float(image.abs().max())
        if not math.isfinite(loss) or not math.isfinite(image_max) or image_max > settings["divergence_limit"]:
            status, diverged_at = "diverged", step
            break
        if observer:
            observer(step, image)
        if step % settings["snapshot_every"] == 0 or step == settings["iterations"]:
            snapshots[step] = image.clone()
        if checkpoint is not None and step < settings["iterations"]:
            checkpoint.maybe_save(step, state)

    if status == "finished":
        with torch.enable_grad():
            final = gradient_distance(parameter_gradients(model, current_input(), soft_labels(), create_graph=False),
                                      shared)
        loss_curve.append(float(final))
        evaluations += 1
    labels = soft_labels().detach().argmax(dim=-1)
    return AttackResult(reconstruction=current_input().detach(), labels=labels, loss_curve=loss_curve,
                        snapshots=snapshots, status=status, diverged_at=diverged_at, evaluations=evaluations,
                        steps=steps)


# Checked by the stage before any work starts, so a typo fails at once.
dlg.validate = resolve
