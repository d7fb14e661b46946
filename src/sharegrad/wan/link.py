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
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

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
    sleep_seconds: float = 0.0  # waiting added by the emulation (on top of the real wait)


@dataclass
class LinkedHandle:
    """An in-flight collective whose ``wait`` returns no earlier than the link's ``due`` time."""

    inner: Handle
    due: float
    link: "EmulatedLink"
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
            self.link.sleep_until(self.due)
            self.done = True
        return result


class EmulatedLink:
    """Wraps a ``Communicator``; anything not overridden here is passed through."""

    def __init__(self, comm: Communicator, spec: LinkSpec, clock=time.perf_counter, sleep=time.sleep):
        spec.validate()
        self.inner, self.spec = comm, spec
        self.clock, self._sleep = clock, sleep
        self.link_counters = LinkCounters()
        self.busy_until = 0.0  # when the sender finishes putting queued bytes on the wire

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

    def sleep_until(self, due: float, count_as_wait: bool = True) -> None:
        began = self.clock()
        while (left := due - self.clock()) > 0:
            self._sleep(left)
        slept = self.clock() - began
        self.link_counters.sleep_seconds += slept
        if count_as_wait:
            self.inner.counters.wait_seconds += slept

    def all_reduce(self, tensor: torch.Tensor, async_op: bool = False, average: bool = True) -> LinkedHandle:
        handle = self.inner.all_reduce(tensor, async_op=True, average=average)
        linked = LinkedHandle(handle, self.schedule(handle.start, handle.ring_bytes), self)
        if not async_op:
            linked.wait()
        return linked

    def all_gather(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        start = self.clock()
        out = self.inner.all_gather(tensor)
        # Each rank forwards the N-1 chunks of the others (ring all-gather).
        self.sleep_until(self.schedule(start, ring_bytes(tensor.numel() * tensor.element_size(),
                                                         self.inner.world_size, "all_gather")))
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
        self.sleep_until(self.schedule(self.clock(), ring_bytes(payload_bytes, self.inner.world_size, op)),
                         count_as_wait=False)

    def take_link_counters(self) -> LinkCounters:
        taken, self.link_counters = self.link_counters, LinkCounters()
        return taken


def wrap(comm: Communicator, latency_ms: float | None, bandwidth_mbps: float | None):
    """``comm`` behind an emulated link, or ``comm`` itself when no link is asked for."""
    if latency_ms is None and bandwidth_mbps is None:
        return comm
    return EmulatedLink(comm, LinkSpec.from_units(latency_ms or 0.0,
                                                  bandwidth_mbps if bandwidth_mbps is not None else float("inf")))
