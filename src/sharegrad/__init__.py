"""sharegrad: what happens when machines share gradients.

Two NeurIPS 2019 works by Zhu, Han et al., as one benchmark suite:
Deep Leakage from Gradients (``attacks/``, ``defenses/``, ``metrics/``) and
Distributed Training Across the World (``sync/``, ``train/``, ``wan/``).
"""

__version__ = "0.1.0"

import os as _os

# torch's OpenMP threads spin while they wait for work (libgomp's default: 300000 spins). On a machine
# whose cores other processes also use (a shared workstation, a CI runner, Snakemake running jobs side
# by side), a parallel region then waits for a thread that is spinning elsewhere or descheduled: one
# ResNet18 evaluation on 2 threads took 5-20 s instead of 0.3-1.2 s with PASSIVE here. PASSIVE (no spin
# at all) makes every small kernel pay a thread wake-up instead; a short spin (GOMP_SPINCOUNT, which
# libgomp takes over the policy) keeps both: results/cpu/eval_limit/spin_*.txt, quiet and with two
# busy processes beside it. Neither changes a result. They must be set before torch loads OpenMP,
# which is why it is here; values set by the user are kept.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
_os.environ.setdefault("GOMP_SPINCOUNT", "10000")
