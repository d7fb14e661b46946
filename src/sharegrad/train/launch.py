"""Joining a process group: under torchrun (env RANK/WORLD_SIZE set) or alone.

``run_local`` starts N local ranks without torchrun (spawned processes,
rendezvous on a free TCP port); tests and benchmarks use it to run the same
``train`` function in a real gloo group.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import tempfile
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist

from sharegrad.errors import UserError
from sharegrad.sync.comm import Communicator


def pick_rank_device(requested: str) -> torch.device:
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(f"device {requested!r} asked for, but CUDA is not available here; use --device cpu")
        device = torch.device(f"cuda:{local_rank % torch.cuda.device_count()}")
        torch.cuda.set_device(device)
        return device
    return torch.device("cpu")


def init_distributed(device_request: str = "auto", timeout_s: float = 60.0) -> tuple[Communicator, torch.device]:
    """gloo on CPU, NCCL on GPU; the timeout bounds how long a rank waits for a dead peer."""
    device = pick_rank_device(device_request)
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return Communicator(device=device), device
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
    return Communicator(timeout_s=timeout_s, device=device), device


def close_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, world: int, port: int, fn, args, out: str, timeout_s: float) -> None:
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    torch.set_num_threads(1)
    comm, device = init_distributed("cpu", timeout_s)
    try:
        result = fn(comm, device, *args)
        torch.save(result, Path(out) / f"rank{rank}.pt")
    finally:
        close_distributed()


def run_local(fn, world_size: int, args: tuple = (), timeout_s: float = 120.0, comm_timeout_s: float = 30.0) -> list:
    """Run ``fn(comm, device, *args)`` on ``world_size`` local CPU ranks; their return values, by rank.

    ``fn`` must be importable (a module-level function). A rank that fails or
    a run past ``timeout_s`` raises RuntimeError; no process is left behind.
    """
    ctx = multiprocessing.get_context("spawn")
    port = free_port()
    with tempfile.TemporaryDirectory() as out:
        procs = [ctx.Process(target=_rank_main, args=(r, world_size, port, fn, args, out, comm_timeout_s))
                 for r in range(world_size)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout_s)
        stuck = [p for p in procs if p.is_alive()]
        for p in stuck:
            p.kill()
            p.join()
        if stuck:
            raise RuntimeError(f"{len(stuck)} of {world_size} ranks still running after {timeout_s:g} s")
        failed = [r for r, p in enumerate(procs) if p.exitcode != 0]
        if failed:
            raise RuntimeError(f"ranks {failed} failed (exit codes {[procs[r].exitcode for r in failed]})")
        return [torch.load(Path(out) / f"rank{r}.pt", weights_only=False) for r in range(world_size)]
