"""The one door every collective of the trainer goes through.

``Communicator`` wraps torch.distributed so that (1) bytes and waiting time are
counted in one place, (2) a dead or silent peer becomes a one-line error
instead of a hang, and (3) an emulated wide-area link can wrap it: a wrapper
only has to delay ``Handle.wait`` until ``handle.start + latency +
handle.ring_bytes / bandwidth``.

All-reduce averages (sum, then divide by the world size at ``wait``), which
is what every sync method wants.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from sharegrad.errors import UserError


class CommunicationError(UserError):
    """A collective failed: a peer died, or did not answer within the timeout."""


def ring_bytes(payload_bytes: int, world_size: int, op: str = "all_reduce") -> int:
    """Bytes one rank puts on the wire for a ring collective of ``payload_bytes``."""
    if world_size <= 1:
        return 0
    if op == "all_reduce":  # reduce-scatter then all-gather
        return int(2 * (world_size - 1) * payload_bytes / world_size)
    if op == "all_gather":  # every rank forwards the N-1 other chunks
        return int((world_size - 1) * payload_bytes)
    if op == "broadcast":  # pipelined along a chain: every rank but the last forwards the payload once
        return int(payload_bytes)
    raise ValueError(f"unknown collective {op!r}")


@dataclass
class CommCounters:
    calls: int = 0
    payload_bytes: int = 0
    bytes_sent: int = 0
    wait_seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"calls": self.calls, "payload_bytes": self.payload_bytes, "bytes_sent": self.bytes_sent,
                "wait_seconds": self.wait_seconds}


@dataclass
class Handle:
    """An in-flight collective. ``wait()`` returns the averaged tensor."""

    comm: "Communicator"
    tensor: torch.Tensor
    work: object | None
    average: bool
    start: float
    ring_bytes: int
    done: bool = field(default=False)

    def wait(self) -> torch.Tensor:
        if self.done:
            return self.tensor
        began = time.perf_counter()
        try:
            if self.work is not None:
                self.work.wait()
        except RuntimeError as exc:
            raise self.comm.failure(exc) from None
        finally:
            self.comm.counters.wait_seconds += time.perf_counter() - began
        if self.average and self.comm.world_size > 1:
            self.tensor.div_(self.comm.world_size)
        self.done = True
        return self.tensor


class Communicator:
    """Counts what goes over the wire; world size 1 (no process group) is a no-op."""

    def __init__(self, group=None, timeout_s: float | None = None, device: str | torch.device = "cpu"):
        self.group = group
        self.timeout_s = timeout_s
        self.device = torch.device(device)
        self.distributed = dist.is_available() and dist.is_initialized()
        self.rank = dist.get_rank(group) if self.distributed else 0
        self.world_size = dist.get_world_size(group) if self.distributed else 1
        self.counters = CommCounters()

    def failure(self, exc: BaseException) -> CommunicationError:
        limit = f"within {self.timeout_s:g} s" if self.timeout_s else "in time"
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return CommunicationError(
            f"rank {self.rank}/{self.world_size}: a collective failed; a peer rank died or did not answer "
            f"{limit} ({first_line[:200]})")

    def _count(self, payload: int, op: str) -> int:
        sent = ring_bytes(payload, self.world_size, op)
        self.counters.calls += 1
        self.counters.payload_bytes += payload
        self.counters.bytes_sent += sent
        return sent

    def all_reduce(self, tensor: torch.Tensor, async_op: bool = False, average: bool = True) -> Handle:
        """Reduce ``tensor`` in place; call ``wait()`` on the result before reading it."""
        payload = tensor.numel() * tensor.element_size()
        sent = self._count(payload, "all_reduce")
        work = None
        if self.world_size > 1:
            try:
                work = dist.all_reduce(tensor, group=self.group, async_op=True)
            except RuntimeError as exc:
                raise self.failure(exc) from None
        handle = Handle(self, tensor, work, average, time.perf_counter(), sent)
        if not async_op:
            handle.wait()
        return handle

    def all_gather(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        """Every rank's ``tensor`` (same shape on all ranks), blocking."""
        self._count(tensor.numel() * tensor.element_size() * self.world_size, "all_gather")
        if self.world_size == 1:
            return [tensor]
        out = [torch.empty_like(tensor) for _ in range(self.world_size)]
        began = time.perf_counter()
        try:
            dist.all_gather(out, tensor, group=self.group)
        except RuntimeError as exc:
            raise self.failure(exc) from None
        finally:
            self.counters.wait_seconds += time.perf_counter() - began
        return out

    def broadcast(self, tensor: torch.Tensor, src: int = 0) -> None:
        """Overwrite ``tensor`` with rank ``src``'s, in place, blocking."""
        self._count(tensor.numel() * tensor.element_size(), "broadcast")
        if self.world_size == 1:
            return
        began = time.perf_counter()
        try:
            dist.broadcast(tensor, src, group=self.group)
        except RuntimeError as exc:
            raise self.failure(exc) from None
        finally:
            self.counters.wait_seconds += time.perf_counter() - began

    def agree(self, value: float) -> tuple[float, float]:
        """(min, max) of a scalar over ranks: used to check that ranks are in step."""
        pair = torch.tensor([value, -value], dtype=torch.float64, device=self.device)
        if self.world_size > 1:
            try:
                dist.all_reduce(pair, op=dist.ReduceOp.MIN, group=self.group)
            except RuntimeError as exc:
                raise self.failure(exc) from None
        return float(pair[0]), float(-pair[1])

    def mean(self, values: list[float]) -> list[float]:
        """Average a few control scalars over ranks (not counted: a few bytes per epoch)."""
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        if self.world_size > 1:
            try:
                dist.all_reduce(tensor, group=self.group)
            except RuntimeError as exc:
                raise self.failure(exc) from None
            tensor /= self.world_size
        return tensor.tolist()

    def count_external(self, payload_bytes: int, op: str = "all_reduce") -> None:
        """Record traffic that torch's own machinery (DDP, model averagers) sent for us."""
        self._count(payload_bytes, op)

    def barrier(self) -> None:
        self.agree(0.0)

    def restore_counters(self, saved: dict) -> None:
        """Continue from a checkpoint's counters (``CommCounters.as_dict``), so that the epoch a run
        resumes in counts its steps before the checkpoint too."""
        self.counters = CommCounters(**saved)

    def take_counters(self) -> CommCounters:
        """Counters since the last call (one epoch's worth), then reset."""
        taken, self.counters = self.counters, CommCounters()
        return taken
