"""Many short runs inside one process group, returning weights and traces (tests, benchmarks)."""

from __future__ import annotations

from pathlib import Path

import torch

from sharegrad.train.data import load_train_data
from sharegrad.train.trainer import TrainSpec, train


def run_specs(comm, device, specs: list[TrainSpec], data_root: str, trace: bool = True) -> list[dict]:
    """One communicator for every run, as a benchmark reuses it; ``left_over`` is what it counted
    after a run that no row of that run holds (0 when every collective is in a row)."""
    data = load_train_data("digits", data_root)
    results = []
    for spec in specs:
        record = train(spec, comm, device, trace=trace, progress=False, data=data)
        results.append({**_summary(record), "trace": record["trace"], "left_over": comm.counters.as_dict()})
    return results


def run_with_checkpoints(comm, device, spec: TrainSpec, data_root: str, checkpoint_dir: str | None) -> dict:
    """One run that writes and resumes checkpoints in ``checkpoint_dir`` (None: none)."""
    data = load_train_data("digits", data_root)
    record = train(spec, comm, device, Path(checkpoint_dir) if checkpoint_dir else None, progress=False, data=data)
    return {**_summary(record), "resumed_from_step": record["resumed_from_step"]}


def _summary(record: dict) -> dict:
    weights = torch.cat([p.detach().reshape(-1) for p in record["model"].parameters()]).clone()
    buffers = [b.detach().double().reshape(-1) for b in record["model"].buffers()]
    return {"weights": weights, "buffers": torch.cat(buffers) if buffers else None, "final": record["final"],
            "curves": record["curves"], "label": record["label"]}
