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


def payload_transfers(comm, device, latency_ms: float, bandwidth_mbps: float, numel: int, scale: float) -> list[dict]:
    """Each collective kind once on a fresh link with ``payload_scale``: seconds from call to result, the
    bytes the link charged, and the elements that really went through torch.distributed (counted by
    wrapping its collectives while the link runs)."""
    import torch.distributed as dist

    from sharegrad.wan import link as link_module

    moved = {"elements": 0}
    real_all_reduce, real_all_gather = dist.all_reduce, dist.all_gather

    def counting_all_reduce(tensor, *args, **kwargs):
        moved["elements"] += tensor.numel()
        return real_all_reduce(tensor, *args, **kwargs)

    def counting_all_gather(outputs, tensor, *args, **kwargs):
        moved["elements"] += tensor.numel()
        return real_all_gather(outputs, tensor, *args, **kwargs)

    rows = []
    dist.all_reduce, dist.all_gather = counting_all_reduce, counting_all_gather
    try:
        for kind in ("all_reduce", "all_gather", "count_external", "slotted_as_gather"):
            link = link_module.EmulatedLink(comm, LinkSpec.from_units(latency_ms, bandwidth_mbps), payload_scale=scale,
                                            gather_slots=kind == "slotted_as_gather")
            tensor = torch.ones(numel)
            payload = numel * tensor.element_size()
            comm.barrier()
            moved["elements"] = 0
            began = time.perf_counter()
            if kind in ("all_reduce", "slotted_as_gather"):
                link.all_reduce(tensor, async_op=True, average=kind == "all_reduce").wait()
            elif kind == "all_gather":
                link.all_gather(tensor)
            else:
                real_all_reduce(tensor)  # the collective torch's machinery ran, then reported
                moved["elements"] += numel
                link.count_external(payload)
            rows.append({"kind": kind, "elapsed_s": time.perf_counter() - began, "payload_bytes": payload,
                         "charged_bytes": link.link_counters.wire_bytes, "moved_bytes": 4 * moved["elements"],
                         "filler_bytes": link.link_counters.filler_bytes})
    finally:
        dist.all_reduce, dist.all_gather = real_all_reduce, real_all_gather
    return rows
