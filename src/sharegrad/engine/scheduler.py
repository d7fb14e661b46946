"""Drive K attack coroutines, answering their requests in batches.

Each round: every attack that wants a two-loop direction gets it from one
batched call, then every attack that wants an evaluation gets it from one
vectorised call. An attack whose coroutine returns (finished, or stopped as
diverged) simply stops asking; the others go on with the same numbers, since
every row of a batched call is computed independently of the other rows.
"""

from __future__ import annotations

from typing import Callable, Generator

import torch

from sharegrad.engine.lbfgs import Direction, Evaluate

# vmap over a batch of one takes other kernels than over two or more; the
# last attack left is evaluated alongside a copy of itself so its numbers do
# not depend on whether others are still running.
MIN_ROWS = 2


def drive(coroutines: dict[int, Generator], evaluate: Callable, directions: Callable | None = None) -> dict[int, object]:
    """Run every coroutine to its end; returns attack -> the coroutine's return value."""
    requests: dict[int, object] = {}
    results: dict[int, object] = {}

    def advance(attack: int, answer) -> None:
        try:
            requests[attack] = coroutines[attack].send(answer)
        except StopIteration as stop:
            requests.pop(attack, None)
            results[attack] = stop.value

    for attack in sorted(coroutines):
        advance(attack, None)
    while requests:
        wanting = sorted(k for k, r in requests.items() if isinstance(r, Direction))
        if wanting:
            grads = torch.stack([requests[k].grad for k in wanting])
            h_diag = torch.stack([torch.as_tensor(requests[k].h_diag, dtype=grads.dtype, device=grads.device)
                                  for k in wanting])
            for row, k in zip(directions(wanting, grads, h_diag), wanting):
                advance(k, row.clone())
            continue  # a direction is always followed by an evaluation request (or the step's end)
        asking = sorted(requests)
        points = torch.stack([requests[k].point for k in asking])
        rows = asking
        if len(asking) < MIN_ROWS:
            rows = asking * MIN_ROWS
            points = points.expand(MIN_ROWS, -1)
        losses, grads = evaluate(rows, points)
        for i, k in enumerate(asking):
            # a row of its own: MKL's dot product rounds by the pointer's alignment, and torch's
            # LBFGS always works on a freshly allocated flat gradient
            advance(k, (losses[i], grads[i].clone()))
    return results

