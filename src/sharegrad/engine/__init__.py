"""The batched attack engine: K independent attacks advanced together.

Each attack keeps its own optimiser state (``lbfgs.py``: torch.optim.LBFGS's
step as a coroutine that asks for evaluations instead of calling a closure);
``scheduler.py`` gathers the requests of all live attacks and answers them in
one vectorised pass (``evaluator.py``: the K gradient-match losses through
``torch.func`` with per-attack model parameters); ``dlg.py`` is DLG on top of
it, ``chunk.py`` plugs it into the image-attack stage. Without a line search
(DLG as published) ``lockstep.py`` replaces the coroutines: every attack takes
one evaluation per round, so their L-BFGS steps are one vectorised update.
"""

from sharegrad.engine.dlg import run_dlg_batched

__all__ = ["run_dlg_batched"]
