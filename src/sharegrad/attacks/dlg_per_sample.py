"""DLG on a batch as the paper runs it: one sample of the dummy batch updated per iteration.

The DLG paper's section on batched data reports that optimising the whole dummy batch at once
converges slowly (any of the N! orderings of the batch fits the shared gradient equally well), and
instead updates a single sample per iteration, x'^(i mod N), cycling through the batch; its table of
iterations needed per batch size is for this form. The released script has only the joint form,
``attacks/dlg.py``, which stays what the pipeline calls ``dlg``.

How the optimiser's state is kept across the cycle: one L-BFGS per sample, each over that sample's
dummy input (and, with ``labels: joint``, its dummy label row), each keeping its own history for
the whole attack. When the cycle comes back to sample i, its L-BFGS goes on from the curvature pairs
of its own earlier steps. This is the natural reading of the paper's update rule: curvature pairs
collected while sample j moved live in j's coordinates and say nothing about i's, so one shared
L-BFGS over the batch would mix them (and be the joint attack again). Each outer step is one
``optimizer.step`` of the current sample's L-BFGS (up to ``max_iter`` evaluations, with the same
line search as ``dlg``), and every evaluation matches the whole batch's gradient, the other samples
held where they are.

``window``: consecutive outer steps on one sample before moving to the next (1 is the paper's
x'^(i mod N); another implementation of DLG calls it the window). ``iterations`` counts outer steps
over the whole batch, as the paper's iteration counts do.

At batch size 1 there is one sample and one L-BFGS over the same variables, so the attack is ``dlg``
bit for bit (tests/test_dlg_per_sample.py). The start is the same draw as ``dlg``'s for every
batch size, so the two forms set side by side start from the same dummy batch.

Labels: ``joint`` (DLG's dummy label, a row per sample, moved with its sample), ``idlg`` (batch
size 1), ``multiset`` (the batch's labels read off the last layer's gradient), ``known``.
"""

from __future__ import annotations

import torch

from sharegrad.attacks.base import AttackResult, Target, register_attack
from sharegrad.attacks.dlg import DEFAULTS as DLG_DEFAULTS
from sharegrad.attacks.dlg import optimise
from sharegrad.attacks.dlg import resolve as resolve_dlg
from sharegrad.errors import UserError

DEFAULTS = {**DLG_DEFAULTS, "window": 1}


def resolve(config: dict) -> dict:
    unknown = set(config) - set(DEFAULTS)
    if unknown:
        raise UserError(f"unknown dlg_per_sample setting(s) {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    window = config.get("window", DEFAULTS["window"])
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise UserError(f"dlg_per_sample: window (outer steps on one sample before the next) must be an "
                        f"integer >= 1, not {window!r}")
    return {**resolve_dlg({k: v for k, v in config.items() if k != "window"}), "window": window}


# The same cell settings as dlg, so a grid sets the two forms side by side on the attack axis.
@register_attack("dlg_per_sample", modality="image", settings=DEFAULTS,
                 cell_settings={"line_search": DEFAULTS["line_search"], "labels": DEFAULTS["labels"]})
def dlg_per_sample(model: torch.nn.Module, target: Target, config: dict, *, seed: int, observer=None,
                   checkpoint=None) -> AttackResult:
    settings = resolve(config)
    return optimise(model, target, settings, seed=seed, observer=observer, checkpoint=checkpoint,
                    window=settings["window"])


dlg_per_sample.validate = resolve
