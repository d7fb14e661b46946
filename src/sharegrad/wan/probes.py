"""Rank functions for ``train.launch.run_local``: the link's timing, the measurement loop and the
top-k DTS method inside a real process group (tests and benchmarks call them)."""

from __future__ import annotations

import time

import torch

from sharegrad.sync.comm import ring_bytes
from sharegrad.wan.link import EmulatedLink, LinkSpec


def time_collectives(comm, device, latency_ms: float, bandwidth_mbps: float, numel: int, repeats: int) -> list[dict]:
    """Each collective kind ``repeats`` times on a fresh (idle) link: seconds from call to result."""
    rows = []
    for kind in ("all_reduce", "all_gather", "count_external"):
        for _ in range(repeats):
            link = EmulatedLink(comm, LinkSpec.from_units(latency_ms, bandwidth_mbps))
            tensor = torch.ones(numel)
            payload = numel * tensor.element_size()
            comm.barrier()
            began = time.perf_counter()
            if kind == "all_reduce":
                link.all_reduce(tensor, async_op=True).wait()
                wire = ring_bytes(payload, comm.world_size)
            elif kind == "all_gather":
                link.all_gather(tensor)
                wire = ring_bytes(payload, comm.world_size, "all_gather")
            else:
                link.count_external(payload)
                wire = ring_bytes(payload, comm.world_size)
            rows.append({"kind": kind, "elapsed_s": time.perf_counter() - began, "wire_bytes": wire,
                         "counted_bytes": link.link_counters.wire_bytes,
                         "expected_s": latency_ms / 1000 + 8 * wire / (bandwidth_mbps * 1e6)})
    return rows


def measure_specs(comm, device, specs, data_root: str) -> list[list[dict]]:
    from sharegrad.train.data import load_train_data
    from sharegrad.wan.measure import measure

    data = load_train_data("digits", data_root)
    return [measure(comm, spec, data) for spec in specs]


def train_specs(comm, device, specs, data_root: str) -> list[dict]:
    from sharegrad.train.harness import run_specs
    from sharegrad.sync import dts_topk  # noqa: F401  (registers delayed_sparse_topk in this process)

    return run_specs(comm, device, specs, data_root, trace=False)
