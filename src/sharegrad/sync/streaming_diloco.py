"""``streaming_diloco(H, F, tau, alpha)``: Streaming DiLoCo (Douillard et al. 2025, arXiv 2501.18512).

DiLoCo (``diloco.py``) with the model cut into F fragments that are
synchronised on a staggered schedule, so that the peak payload is about 1/F
of the model, and with each fragment's outer update arriving tau inner steps
after its all-reduce started, so that the all-reduce is hidden behind tau
steps of compute. On arrival the local fragment becomes
``alpha * local + (1 - alpha) * global``. The schedule, the strided fragments
and what happens at the end are described in ``diloco.py``; with F = 1 and
tau = 0 the method is ``diloco`` (alpha then only keeps part of the local
weights).

Options: ``period`` (H), ``fragments`` (F <= H), ``overlap`` (tau < H), ``mix``
(alpha in [0, 1]; 0, the default, as torchft's ``fragment_update_alpha``),
``outer_lr`` and ``outer_momentum`` (defaults 0.7 and 0.9, DiLoCo's).
The streaming paper's FP4 quantisation of the exchanged outer gradients is
not implemented.
"""

from sharegrad.sync import SyncOptions, register_sync
from sharegrad.sync.diloco import DiLoCo


@register_sync("streaming_diloco",
               options=("period", "outer_lr", "outer_momentum", "fragments", "overlap", "mix"))
def streaming_diloco(options: SyncOptions):
    return DiLoCo(options.period, options.outer_lr, options.outer_momentum, options.fragments, options.overlap,
                  options.mix, name="streaming_diloco")
