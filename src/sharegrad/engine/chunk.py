"""A chunk of image attacks through the batched engine, scored by the stage's own code.

The stage's ``run_one`` builds the victim, its shared gradients and an
observer, calls the attack, then scores the result; this module runs every
``run_one`` of the chunk up to its attack call, runs the K attacks together,
and lets each ``run_one`` finish with its own result. Each ``run_one`` runs in
its own thread only to be paused at that call: the threads take turns (one
runs while the others wait), so model seeding and scoring happen in the same
order as in a sequential chunk, and the JSON records keep their fields.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Iterator

from sharegrad.engine.dlg import run_dlg_batched
from sharegrad.errors import UserError
from sharegrad.pipeline import BATCHED_ATTACKS  # one list for the engine and the rules


class _PausedAttack:
    """One ``run_one`` call, paused where it runs its attack."""

    def __init__(self, run_one: Callable, args: tuple):
        self.call = None
        self.answer = None
        self.output = None
        self.error: BaseException | None = None
        self._reached = threading.Event()
        self._resume = threading.Event()
        self._thread = threading.Thread(target=self._main, args=(run_one, args), daemon=True)
        self._thread.start()
        self._reached.wait()  # run until the attack call (or an error), one at a time
        if self.error is not None:
            self._thread.join()
            raise self.error

    def _runner(self, name, model, target, config, *, seed, observer=None):
        self.call = {"name": name, "model": model, "target": target, "config": config, "seed": seed,
                     "observer": observer}
        self._reached.set()
        self._resume.wait()
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer

    def _main(self, run_one, args):
        try:
            self.output = run_one(*args, attack_runner=self._runner)
        except BaseException as exc:  # handed to the main thread
            self.error = exc
        finally:
            self._reached.set()

    def finish(self, answer):
        """Hand the attack's result (or an exception) back; returns what ``run_one`` returned."""
        self.answer = answer
        self._resume.set()
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self.output


def run_batched(run_one: Callable, spec, attack_indices: list[int], images, device, exact: bool = False,
                progress: bool = True) -> Iterator[tuple[dict, dict]]:
    """(record, arrays) per attack, in order, like ``run_one`` gives them.

    ``wall_time_s`` is the attack's share of the batch (the batch's wall time / K):
    what the attack costs, which is what ``attacks per hour`` counts."""
    if spec.attack not in BATCHED_ATTACKS:
        raise UserError(f"--engine batched runs {', '.join(BATCHED_ATTACKS)} only, not {spec.attack!r}; "
                        "use --engine sequential")
    paused = []
    try:
        for index in attack_indices:
            paused.append(_PausedAttack(run_one, (spec, index, images, device)))
        calls = [p.call for p in paused]
        start = time.perf_counter()
        results = run_dlg_batched([c["model"] for c in calls], [c["target"] for c in calls], calls[0]["config"],
                                  [c["seed"] for c in calls], [c["observer"] for c in calls], exact=exact,
                                  progress=progress)
        share = (time.perf_counter() - start) / len(calls)
    except BaseException as exc:
        for p in paused:  # let the paused threads end
            if p.answer is None:
                try:
                    p.finish(exc)
                except BaseException:
                    pass
        raise
    for p, result in zip(paused, results):
        record, arrays = p.finish(result)
        record["wall_time_s"] = share
        record["seconds_per_evaluation"] = share / max(result.evaluations, 1)
        yield record, arrays
