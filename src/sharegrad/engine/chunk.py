"""A chunk of image attacks through the batched engine.

The stage prepares each attack (``stages.dlg_images.prepare``: victim, shared
gradients, observer), this module runs the K attacks together, and the stage
scores each result (``score``). Preparing happens attack by attack in index
order, as in a sequential chunk, so model seeding is the same. Each attack may
carry a checkpoint (``sharegrad.checkpoint``) that it resumes from and saves to.
"""

from __future__ import annotations

import time

from sharegrad.attacks.base import AttackResult
from sharegrad.engine.dlg import run_dlg_batched
from sharegrad.errors import UserError
from sharegrad.pipeline.dlg import BATCHED_ATTACKS  # one list for the engine and the rules


def run_batched(problems: list, attack: str, config: dict, checkpoints: list | None = None, exact: bool = False,
                progress: bool = True) -> list[tuple[AttackResult, float, float]]:
    """(result, wall seconds, CPU seconds) per problem, in order.

    A problem has ``model``, ``target``, ``seed`` and ``observer``. The seconds are the
    attack's share of the batch (the batch's time / K): what the attack costs, which is
    what ``attacks per hour`` counts; a resumed attack adds what its earlier pieces spent."""
    if attack not in BATCHED_ATTACKS:
        raise UserError(f"--engine batched runs {', '.join(BATCHED_ATTACKS)} only, not {attack!r}; "
                        "use --engine sequential")
    checkpoints = checkpoints or [None] * len(problems)
    for checkpoint in checkpoints:
        if checkpoint is not None:
            checkpoint.share = 1.0 / len(problems)
    start, cpu_start = time.perf_counter(), time.process_time()
    results = run_dlg_batched([p.model for p in problems], [p.target for p in problems], config,
                              [p.seed for p in problems], [p.observer for p in problems], exact=exact,
                              progress=progress, checkpoints=checkpoints)
    wall = (time.perf_counter() - start) / len(problems)
    cpu = (time.process_time() - cpu_start) / len(problems)
    return [(result, wall + (c.prior_wall_s if c else 0.0), cpu + (c.prior_cpu_s if c else 0.0))
            for result, c in zip(results, checkpoints)]
