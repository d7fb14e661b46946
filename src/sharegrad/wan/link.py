"""An emulated wide-area link: latency L and bandwidth B under a ``Communicator``.

A collective that puts R bytes on the wire (per rank, ring volume: see
``sync.comm.ring_bytes``) completes no earlier than ``start + R / B + L``:
the real collective still runs and moves the real data, and ``wait()`` then
sleeps until the emulated completion. The link carries one transfer at a time
(a queue): a transfer starts sending when the previous one has left the
sender, so collectives in flight share B instead of each getting all of it.
Without the queue a delayed update would hide a bandwidth limit for free.

No root, no kernel support (this machine's kernel has no ``netem``), so it
works the same on a cluster. What it does not see:
- control scalars (``agree``, ``mean``, ``barrier``): a few bytes per epoch,
  outside the measured steps;
- DDP's bucket all-reduce through ``Handle.work`` futures (method ``ddp``):
  DDP waits on them inside backward, where no wait can be inserted;
- collectives that torch's own machinery runs (local SGD's averager,
  PowerSGD's hook) are charged after they finished, through
  ``count_external``, with one latency per call: PowerSGD really needs two
  sequential rounds (P then Q) per step, so it is charged one L too few.

Payload (paper-scale emulation). ``payload_scale`` s > 1 stands for a model of
s times the real model's parameters: every collective of b bytes of the
method's gradients, weights or momentum becomes a transfer of round(s b)
bytes. The method's own tensor still goes through the real collective, and so
does a zero-filled filler tensor of the missing round(s b) - b bytes (a
second real collective of the same kind, waited for with the first), so the
bytes the link charges are bytes that really crossed the process group. The
method's arithmetic stays on the real model (on this CPU, optimizer steps on
25.6M parameters per rank would cost more than the compute they stand for).
Broadcasts (BatchNorm buffers, not parameters) are not scaled. With
``gather_slots`` a sum all-reduce (``average=False``: the slotted top-k
exchange of ``sync/dts_topk.py``, one disjoint slot per rank) is charged as
the ring all-gather of one slot that it stands for, half its ring bytes at 4
ranks: what a deployment that gathers indices and values would send.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from sharegrad.errors import UserError
from sharegrad.sync.comm import Communicator, Handle, ring_bytes


@dataclass
class LinkSpec:
    latency_s: float
    bandwidth_bps: float  # bits per second; inf: latency only

    def validate(self) -> None:
        if not self.latency_s >= 0:
            raise UserError(f"link latency must be >= 0 s, got {self.latency_s}")
        if not self.bandwidth_bps > 0:
            raise UserError(f"link bandwidth must be > 0 bit/s, got {self.bandwidth_bps}")

    def send_seconds(self, wire_bytes: int) -> float:
        return 8.0 * wire_bytes / self.bandwidth_bps

    @classmethod
    def from_units(cls, latency_ms: float, bandwidth_mbps: float) -> "LinkSpec":
        spec = cls(latency_ms / 1000.0, bandwidth_mbps * 1e6)
        spec.validate()
        return spec


@dataclass
class LinkCounters:
    collectives: int = 0
    wire_bytes: int = 0      # per rank, ring volume, as the link charged it
    filler_bytes: int = 0    # payload bytes of the filler collectives this rank took part in (payload_scale > 1)
    sleep_seconds: float = 0.0  # waiting added by the emulation (on top of the real wait)


@dataclass
class LinkedHandle:
    """An in-flight collective whose ``wait`` returns no earlier than the link's ``due`` time."""

    inner: Handle
    due: float
    link: "EmulatedLink"
    filler: object | None = None  # the filler collective's work (payload_scale > 1)
    done: bool = field(default=False)

    @property
    def tensor(self) -> torch.Tensor:
        return self.inner.tensor

    @property
    def work(self):
        return self.inner.work

    def wait(self) -> torch.Tensor:
        result = self.inner.wait()
        if not self.done:
            self.link.wait_filler(self.filler)
            self.link.sleep_until(self.due)
            self.done = True
        return result


class EmulatedLink:
    """Wraps a ``Communicator``; anything not overridden here is passed through."""

    def __init__(self, comm: Communicator, spec: LinkSpec, clock=time.perf_counter, sleep=time.sleep,
                 payload_scale: float = 1.0, gather_slots: bool = False):
        spec.validate()
        if not (math.isfinite(payload_scale) and payload_scale >= 1.0):
            raise UserError(f"payload scale must be >= 1 (a payload of at least the model's own parameters), "
                            f"got {payload_scale}")
        self.inner, self.spec = comm, spec
        self.clock, self._sleep = clock, sleep
        self.payload_scale, self.gather_slots = float(payload_scale), gather_slots
        self.link_counters = LinkCounters()
        self.busy_until = 0.0  # when the sender finishes putting queued bytes on the wire
        self._zeros = torch.zeros(0)  # the all-reduce filler: zeros stay zeros, so in-flight fillers may share it
        self.released = False  # after the measured steps: in-flight transfers complete at once (see release)

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def schedule(self, start: float, wire_bytes: int) -> float:
        """Emulated completion of a transfer of ``wire_bytes`` handed to the link at ``start``."""
        if self.inner.world_size <= 1:
            return start  # nothing crosses a link
        sending = max(start, self.busy_until)
        self.busy_until = sending + self.spec.send_seconds(wire_bytes)
        self.link_counters.collectives += 1
        self.link_counters.wire_bytes += wire_bytes
        return self.busy_until + self.spec.latency_s

    def release(self) -> None:
        """Stop emulating: what is still queued completes without waiting for the link. A measurement calls
        this after its last timed step, so the final flush of a bandwidth-bound delayed method does not wait
        out a queue of windows (twenty 82 s sends at paper scale) that no measured step waits for."""
        self.released = True

    def sleep_until(self, due: float, count_as_wait: bool = True) -> None:
        if self.released:
            return
        began = self.clock()
        while (left := due - self.clock()) > 0:
            self._sleep(left)
        slept = self.clock() - began
        self.link_counters.sleep_seconds += slept
        if count_as_wait:
            self.inner.counters.wait_seconds += slept

    def padded_bytes(self, payload_bytes: int) -> int:
        """The bytes a collective of ``payload_bytes`` of the real model stands for at the emulated payload."""
        return int(round(payload_bytes * self.payload_scale))

    def _filler(self, payload_bytes: int, op: str):
        """Run the filler collective for the bytes the real tensor lacks; its work handle (None: none needed)."""
        extra = self.padded_bytes(payload_bytes) - payload_bytes
        if extra <= 0 or self.inner.world_size <= 1:
            return None
        numel = math.ceil(extra / 4)  # float32 elements
        self.link_counters.filler_bytes += 4 * numel
        group = self.inner.group
        try:
            if op == "all_gather":
                part = torch.zeros(numel)
                dist.all_gather([torch.empty_like(part) for _ in range(self.inner.world_size)], part, group=group)
                return None
            if self._zeros.numel() < numel:
                self._zeros = torch.zeros(numel)
            return dist.all_reduce(self._zeros[:numel], group=group, async_op=op == "all_reduce_async")
        except RuntimeError as exc:
            raise self.inner.failure(exc) from None

    def wait_filler(self, work) -> None:
        if work is None:
            return
        began = self.clock()
        try:
            work.wait()
        except RuntimeError as exc:
            raise self.inner.failure(exc) from None
        finally:
            self.inner.counters.wait_seconds += self.clock() - began

    def all_reduce(self, tensor: torch.Tensor, async_op: bool = False, average: bool = True) -> LinkedHandle:
        handle = self.inner.all_reduce(tensor, async_op=True, average=average)
        payload = tensor.numel() * tensor.element_size()
        filler = self._filler(payload, "all_reduce_async")
        world = self.inner.world_size
        if self.gather_slots and not average:
            # one slot per rank: the exchange is an all-gather of one slot, charged as such
            wire = ring_bytes(self.padded_bytes(payload) // max(1, world), world, "all_gather")
        else:
            wire = ring_bytes(self.padded_bytes(payload), world)
        linked = LinkedHandle(handle, self.schedule(handle.start, wire), self, filler)
        if not async_op:
            linked.wait()
        return linked

    def all_gather(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        start = self.clock()
        out = self.inner.all_gather(tensor)
        payload = tensor.numel() * tensor.element_size()
        self._filler(payload, "all_gather")
        # Each rank forwards the N-1 chunks of the others (ring all-gather).
        self.sleep_until(self.schedule(start, ring_bytes(self.padded_bytes(payload), self.inner.world_size,
                                                         "all_gather")))
        return out

    def broadcast(self, tensor: torch.Tensor, src: int = 0) -> None:
        start = self.clock()
        self.inner.broadcast(tensor, src)
        self.sleep_until(self.schedule(start, ring_bytes(tensor.numel() * tensor.element_size(),
                                                         self.inner.world_size, "broadcast")))

    def count_external(self, payload_bytes: int, op: str = "all_reduce") -> None:
        self.inner.count_external(payload_bytes, op)
        # The collective already ran (blocking) inside torch: charge the link from now. Not added to
        # the Communicator's wait: the caller times its external collectives itself, or cannot.
        start = self.clock()
        self._filler(payload_bytes, op)  # blocking, as torch's collective was
        self.sleep_until(self.schedule(start, ring_bytes(self.padded_bytes(payload_bytes), self.inner.world_size,
                                                         op)), count_as_wait=False)

    def take_link_counters(self) -> LinkCounters:
        taken, self.link_counters = self.link_counters, LinkCounters()
        return taken


def wrap(comm: Communicator, latency_ms: float | None, bandwidth_mbps: float | None):
    """``comm`` behind an emulated link, or ``comm`` itself when no link is asked for."""
    if latency_ms is None and bandwidth_mbps is None:
        return comm
    return EmulatedLink(comm, LinkSpec.from_units(latency_ms or 0.0,
                                                  bandwidth_mbps if bandwidth_mbps is not None else float("inf")))
