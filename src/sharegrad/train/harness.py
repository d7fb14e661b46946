"""Many short runs inside one process group, returning weights and traces (tests, benchmarks)."""

from __future__ import annotations

import torch

from sharegrad.train.data import load_train_data
from sharegrad.train.trainer import TrainSpec, train


def run_specs(comm, device, specs: list[TrainSpec], data_root: str, trace: bool = True) -> list[dict]:
    data = load_train_data("digits", data_root)
    results = []
    for spec in specs:
        record = train(spec, comm, device, trace=trace, progress=False, data=data)
        weights = torch.cat([p.detach().reshape(-1) for p in record["model"].parameters()]).clone()
        buffers = [b.detach().double().reshape(-1) for b in record["model"].buffers()]
        results.append({"weights": weights, "buffers": torch.cat(buffers) if buffers else None,
                        "trace": record["trace"], "final": record["final"], "curves": record["curves"],
                        "label": record["label"]})
    return results

