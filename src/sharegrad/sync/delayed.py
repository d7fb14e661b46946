"""``delayed(t)``: the average of step i is applied at step i+t, the local gradient at once.

The all-reduce of step i is started asynchronously and waited for t steps
later, so t steps of compute hide the communication (dts.py has the maths).
``delayed_nocomp(t)`` is the ablation: only the stale average is applied.
"""

from sharegrad.sync import SyncOptions, register_sync
from sharegrad.sync.dts import DelayedSparse


@register_sync("delayed", options=("delay",))
def delayed(options: SyncOptions):
    return DelayedSparse(options.delay, 1, compensate=True)


@register_sync("delayed_nocomp", options=("delay",))
def delayed_nocomp(options: SyncOptions):
    return DelayedSparse(options.delay, 1, compensate=False)
