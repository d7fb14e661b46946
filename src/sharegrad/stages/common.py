"""Helpers every stage uses: atomic writes, JSON records, timing."""

from __future__ import annotations

import json
import math
import os
import secrets
from pathlib import Path

import numpy as np


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (np.floating,)):
        return _clean(float(value))
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def write_json(path: Path, record: dict) -> None:
    """Write atomically: a killed job never leaves a half-written result behind.

    The temporary file is created with mode 0666 less the umask, like every other result file
    (``tempfile.mkstemp`` would make it 0600, and the record keeps the mode through the rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    with os.fdopen(fd, "w") as handle:
        json.dump(_clean(record), handle, indent=1)
    os.replace(tmp, path)


def atomic_path(path: Path) -> Path:
    """A temporary sibling to write to, then ``os.replace`` onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.stem}.tmp{path.suffix}")


def write_csv(path: Path, frame) -> None:
    """Write a pandas table atomically (aggregations are the figures' only input)."""
    tmp = atomic_path(path)
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)


def attack_outcome(result, wall: float) -> dict:
    """The fields every attack record carries about how its run ended."""
    return {
        "status": result.status,
        "diverged_at": result.diverged_at,
        "steps": result.steps,
        "evaluations": result.evaluations,
        "wall_time_s": wall,
        "seconds_per_evaluation": wall / max(result.evaluations, 1),
        "final_loss": result.loss_curve[-1] if result.loss_curve else None,
    }
