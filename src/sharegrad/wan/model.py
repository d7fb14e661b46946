"""The analytic model of training over a slow link, from the slides, fitted to nothing.

Inputs: compute time per step T_c, link latency L and bandwidth B, the world
size N, the model's parameter shapes and the method's delay t, period p (and
top-k ratio or PowerSGD rank). From them: the bytes one rank puts on the wire
per synchronisation (ring volume, as ``sync.comm.ring_bytes``), the
communication time ``T_comm = rounds * L + bytes / B``, and the step time.

The slides' wait per step is ``max(0, T_comm - T_overlap - t T_c)`` amortised
over p (``slides_wait_per_step``). That counts one window in flight. In steady
state ``m = t // p`` earlier windows are in flight as well and their waits
fall inside the t steps a window has to arrive, so a cycle of p steps waits
``w = max(0, (T_comm - t T_c) / (1 + m))`` (the slides' value when t < p), and a
link that carries one transfer at a time cannot finish a cycle faster than
it sends one window: ``cycle = max(p T_c + w, bytes / B)``. T_overlap is 0
here: every method starts its collective after the backward pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sharegrad.errors import UserError
from sharegrad.sync.comm import ring_bytes
from sharegrad.sync.dts_topk import slot_elements

DENSE_WINDOW = ("sync", "ddp", "delayed", "delayed_nocomp", "sparse", "sparse_nocomp", "delayed_sparse",
                "delayed_sparse_nocomp")


@dataclass
class Pattern:
    """How a method uses the link: every p steps one sync of ``wire_bytes`` in ``rounds`` sequential
    collectives, waited for t steps after it started."""

    delay: int
    period: int
    rounds: int
    wire_bytes: int


def powersgd_elements(shapes: list[tuple[int, ...]], rank: int, min_compression_rate: float = 2.0) -> int:
    """Elements PowerSGD's hook all-reduces per step (its own rule for which tensors to compress)."""
    total = 0
    for shape in shapes:
        numel = math.prod(shape)
        n = shape[0] if shape else 1
        m = numel // n
        r = min(n, m, rank)
        compressed = (n + m) * r
        total += compressed if numel > min_compression_rate * compressed else numel
    return total


def comm_pattern(method: str, shapes: list[tuple[int, ...]], world_size: int, momentum: float, delay: int = 0,
                 period: int = 1, ratio: float = 0.01, powersgd_rank: int = 2, element_bytes: int = 4,
                 topk_exchange: str = "slotted", fragments: int = 1, overlap: int = 0) -> Pattern:
    """``topk_exchange``: "slotted" is what dts_topk.py sends (a sum all-reduce with a slot per rank);
    "all_gather" is a ring all-gather of float32 values and int32 indices (half the bytes). With
    momentum top-k DTS sends the momentum change of the chosen entries too (dts_topk.py).

    DiLoCo (H = ``period``) all-reduces the whole model's pseudo-gradient every H steps and waits at
    once. Streaming DiLoCo (F = ``fragments``, tau = ``overlap``) is modelled as F equal fragments, one
    every H / F steps (rounded), each waited tau steps after it started; a real model's fragments are
    as large as its layers make them (``sync/diloco.py``), so the measured bytes per round are the
    model's, spread unevenly over the round."""
    numel = sum(math.prod(s) for s in shapes)
    dense = numel * element_bytes
    if method in DENSE_WINDOW:
        t, p = (delay, 1) if method.startswith("delayed") and "sparse" not in method else (0, 1)
        if "sparse" in method:
            t, p = (delay if method.startswith("delayed") else 0), period
        # A window of more than one step sends the momentum shadow state too (dts.py).
        payload = dense * (2 if p > 1 and momentum > 0 else 1)
        return Pattern(t, p, 1, ring_bytes(payload, world_size))
    if method == "delayed_sparse_topk" and topk_exchange == "all_gather":
        # per entry an int32 index and float32 values of the weight change (and of the momentum change)
        k = max(1, math.ceil(ratio * numel))
        return Pattern(delay, period, 1, ring_bytes(k * (12 if momentum > 0 else 8), world_size, "all_gather"))
    if method == "delayed_sparse_topk":
        buffer_bytes = element_bytes if numel < 2 ** 24 else 8
        return Pattern(delay, period, 1, ring_bytes(slot_elements(numel, ratio, world_size, momentum)
                                                    * buffer_bytes, world_size))
    if method == "dgc":  # two blocking all-gathers: values (float) then indices (int32)
        k = max(1, math.ceil(ratio * numel))
        return Pattern(0, 1, 2, 2 * ring_bytes(k * 4, world_size, "all_gather"))
    if method == "localsgd":
        return Pattern(0, period, 1, ring_bytes(dense, world_size))
    if method == "diloco":
        return Pattern(0, period, 1, ring_bytes(dense, world_size))
    if method == "streaming_diloco":
        every = max(1, round(period / fragments))
        return Pattern(overlap, every, 1, ring_bytes(dense / fragments, world_size))
    if method == "powersgd":
        return Pattern(0, 1, 1, ring_bytes(powersgd_elements(shapes, powersgd_rank) * 4, world_size))
    raise UserError(f"the WAN model knows no sync method {method!r}")


def send_seconds(wire_bytes: float, bandwidth_mbps: float) -> float:
    return 8.0 * wire_bytes / (bandwidth_mbps * 1e6)


def comm_seconds(pattern: Pattern, latency_ms: float, bandwidth_mbps: float) -> float:
    return pattern.rounds * latency_ms / 1000.0 + send_seconds(pattern.wire_bytes, bandwidth_mbps)


def step_seconds(compute_s: float, pattern: Pattern, latency_ms: float, bandwidth_mbps: float) -> float:
    """Steady-state time per step."""
    t, p = pattern.delay, pattern.period
    t_comm = comm_seconds(pattern, latency_ms, bandwidth_mbps)
    in_flight_before = t // p
    wait = max(0.0, (t_comm - t * compute_s) / (1 + in_flight_before))
    cycle = max(p * compute_s + wait, send_seconds(pattern.wire_bytes, bandwidth_mbps))
    return cycle / p


def bandwidth_bound(compute_s: float, pattern: Pattern, latency_ms: float, bandwidth_mbps: float) -> float:
    """Whether the link, busy all the time, sets the pace (then every cycle of p steps waits the same)."""
    t, p = pattern.delay, pattern.period
    wait = max(0.0, (comm_seconds(pattern, latency_ms, bandwidth_mbps) - t * compute_s) / (1 + t // p))
    return send_seconds(pattern.wire_bytes, bandwidth_mbps) > p * compute_s + wait


def utilisation(compute_s: float, pattern: Pattern, latency_ms: float, bandwidth_mbps: float) -> float:
    """Compute utilisation: the fraction of a step spent computing (the scalability when one rank's step
    is its compute alone)."""
    return compute_s / step_seconds(compute_s, pattern, latency_ms, bandwidth_mbps)


def wait_per_step(compute_s: float, pattern: Pattern, latency_ms: float, bandwidth_mbps: float) -> float:
    return step_seconds(compute_s, pattern, latency_ms, bandwidth_mbps) - compute_s


def slides_wait_per_step(compute_s: float, pattern: Pattern, latency_ms: float, bandwidth_mbps: float,
                         overlap_s: float = 0.0) -> float:
    """The slides' formula as written: one window in flight, amortised over p."""
    t_comm = comm_seconds(pattern, latency_ms, bandwidth_mbps)
    return max(0.0, t_comm - overlap_s - pattern.delay * compute_s) / pattern.period


def scalability(single_rank_step_s: float, step_s: float) -> float:
    """throughput(N) / (N throughput(1)) with the same per-rank batch: the ratio of step times."""
    return single_rank_step_s / step_s


def largest_hidden_latency_ms(compute_s: float, pattern: Pattern, bandwidth_mbps: float) -> float:
    """The largest L at which the method waits for nothing (T_comm <= t T_c and the link keeps up)."""
    if send_seconds(pattern.wire_bytes, bandwidth_mbps) > pattern.period * compute_s:
        return 0.0  # bandwidth-bound: it waits at any latency
    spare = pattern.delay * compute_s - send_seconds(pattern.wire_bytes, bandwidth_mbps)
    return max(0.0, 1000.0 * spare / pattern.rounds)
