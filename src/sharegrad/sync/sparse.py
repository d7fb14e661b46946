"""``sparse(p)``: synchronise once every p steps, swapping the window's local gradients for the averages.

For SGD and momentum SGD (weight decay included) the swap is exact (dts.py);
after a sync every rank holds the same weights and momentum. With vanilla
SGD this equals averaging the models every p steps; with momentum it also
averages the momentum buffers, which local SGD does not.
``sparse_nocomp(p)`` is the ablation: weights move only at syncs, so each
window's gradients are computed at the weights of the last sync.
"""

from sharegrad.sync import SyncOptions, register_sync
from sharegrad.sync.dts import DelayedSparse


@register_sync("sparse", options=("period",))
def sparse(options: SyncOptions):
    return DelayedSparse(0, options.period, compensate=True)


@register_sync("sparse_nocomp", options=("period",))
def sparse_nocomp(options: SyncOptions):
    return DelayedSparse(0, options.period, compensate=False)
