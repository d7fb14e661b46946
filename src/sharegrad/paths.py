"""Every on-disk location in one place.

Paths are relative to the working directory (the repository root when run by
Snakemake); ``SHAREGRAD_ROOT`` moves them elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("SHAREGRAD_ROOT", "."))
DATA = ROOT / "data"
RESULTS = ROOT / "results"  # results/<config name>/: its runs, records and aggregated CSVs
FIGURES = ROOT / "figures"  # figures/<config name>/: its figures and tables, drawn from those CSVs

# Data sets.  Every image set is stored in CIFAR's own on-disk format, so one
# loader (data/cifar.py) reads the real CIFAR and the embedded photographs.
EMBEDDED_ROOT = DATA / "embedded"
CIFAR_ROOT = DATA / "cifar"
DIGITS_FILE = DATA / "digits" / "digits.npz"
WEIGHTS = DATA / "weights"


def image_dataset_root(name: str) -> Path:
    """Folder that holds ``cifar-100-python/`` (or ``cifar-10-batches-py/``)."""
    return EMBEDDED_ROOT if name == "embedded" else CIFAR_ROOT
