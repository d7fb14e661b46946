"""sharegrad: what happens when machines share gradients.

Two NeurIPS 2019 works by Zhu, Han et al., as one benchmark suite:
Deep Leakage from Gradients (``attacks/``, ``defenses/``, ``metrics/``) and
Distributed Training Across the World (``sync/``, ``train/``, ``wan/``).
"""

__version__ = "0.1.0"
