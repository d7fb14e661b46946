"""Measure steps/s of one sync method over an emulated link, for a grid of (latency, bandwidth).

Runs on every rank of a process group (``sharegrad wan-measure`` under
torchrun, or ``train.launch.run_local`` in tests). It uses the trainer's own
pieces (data shards, models, sync methods, closure) but times every step, so
throughput is measured in steady state: after ``t + p`` warm-up steps that
fill the pipeline of delayed windows, over whole cycles of p (t // p + 1)
steps (the waits of overlapping windows alternate; a whole number of cycles
averages them). Single-rank throughput is measured in the same job just
before each point, with plain SGD (``sync`` on one rank: no communication),
every rank alone in a one-rank group at the same time, so both sides of the
ratio see nearly the same machine load.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
import torch.nn.functional as F
from tqdm import tqdm

from sharegrad.sync import SyncOptions, build_sync_method
from sharegrad.sync.comm import Communicator
from sharegrad.sync.sgd import OptimizerConfig
from sharegrad.train.data import TrainData, get_batch, steps_per_epoch
from sharegrad.train.models import build_train_model
from sharegrad.sync import dts_topk  # noqa: F401  (registers delayed_sparse_topk)
from sharegrad.wan import model as wan_model
from sharegrad.wan.link import EmulatedLink, LinkSpec


@dataclass
class MeasureSpec:
    method: str = "sync"
    delay: int = 0
    period: int = 1
    ratio: float = 0.01
    powersgd_rank: int = 2
    warmup_steps: int = 0
    model: str = "digits_cnn"
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    seed: int = 0
    latencies_ms: list[float] = field(default_factory=lambda: [0.0])
    bandwidths_mbps: list[float] = field(default_factory=lambda: [1e4])
    min_steps: int = 20         # measured steps per point, at least (rounded up to whole cycles)
    min_cycles: int = 2
    point_budget_s: float = 60.0  # fewer steps (never below min_cycles) where the model predicts slow steps
    baseline_steps: int = 40

    def options(self) -> SyncOptions:
        return SyncOptions(delay=self.delay, period=self.period, ratio=self.ratio, rank=self.powersgd_rank,
                           warmup_steps=self.warmup_steps)


def _closure(x, y):
    def closure(module):
        module.train()
        loss = F.cross_entropy(module(x), y)
        loss.backward()
        return loss.item()

    return closure


def timed_steps(method, data: TrainData, world: int, rank: int, spec: MeasureSpec, total: int,
                marks: list[int], on_mark=None, desc: str = "") -> list[float]:
    """Run ``total`` steps; the clock at the end of each step. ``on_mark(step)`` runs (untimed) after
    the steps in ``marks``."""
    per_epoch = steps_per_epoch(len(data.y_train), world, spec.batch_size)
    dtype = next(method.model.parameters()).dtype
    stamps = []
    for step in tqdm(range(total), desc=desc, disable=rank != 0 or not desc, mininterval=5, leave=False):
        epoch, in_epoch = divmod(step, per_epoch)
        x, y = get_batch(data, world, rank, spec.batch_size, epoch, in_epoch, spec.seed, step)
        method.train_step(step, _closure(x.to(dtype), y))
        stamps.append(time.perf_counter())
        if on_mark is not None and step in marks:
            on_mark(step)
    return stamps


def build(spec: MeasureSpec, name: str, options: SyncOptions, comm, data: TrainData, total_steps: int):
    model = build_train_model(spec.model, data.num_classes, data.in_channels, spec.seed)
    method = build_sync_method(name, options)
    method.setup(model, OptimizerConfig(spec.lr, spec.momentum, spec.weight_decay, "constant", total_steps), comm)
    return method


def plan_steps(spec: MeasureSpec, pattern: wan_model.Pattern, predicted_step_s: float) -> tuple[int, int]:
    """(warm-up steps, measured steps) for one point."""
    cycle = pattern.period * (pattern.delay // pattern.period + 1)
    warm = pattern.delay + pattern.period + max(2, spec.warmup_steps if spec.method == "localsgd" else 0,
                                                spec.warmup_steps if spec.method == "powersgd" else 0)
    cycles = max(spec.min_cycles, math.ceil(spec.min_steps / cycle))
    affordable = math.floor(spec.point_budget_s / max(predicted_step_s * cycle, 1e-9))
    return warm, cycle * max(spec.min_cycles, min(cycles, affordable))


def solo_group(comm: Communicator):
    """A one-rank group for each rank (all ranks must call this together)."""
    return dist.new_subgroups(group_size=1)[0] if comm.world_size > 1 else None


def single_rank_step_s(comm: Communicator, spec: MeasureSpec, data: TrainData, group) -> float:
    """Plain SGD, every rank alone in its one-rank group at the same time; the mean over ranks.

    All ranks run their solo baseline together so that it gets the same share of a shared machine
    as the N-rank run (as if each worker had its machine to itself, which is the paper's setting);
    one rank running while the others idle would get spare cores the N-rank run never sees.
    """
    method = build(spec, "sync", SyncOptions(), Communicator(group=group), data, spec.baseline_steps + 5)
    comm.barrier()
    stamps = timed_steps(method, data, 1, 0, spec, spec.baseline_steps + 5, [])
    return comm.mean([(stamps[-1] - stamps[4]) / spec.baseline_steps])[0]


def measure(comm: Communicator, spec: MeasureSpec, data: TrainData) -> list[dict]:
    """One row per (latency, bandwidth), identical on every rank."""
    world, rank = comm.world_size, comm.rank
    group = solo_group(comm)
    shapes = [tuple(p.shape) for p in build_train_model(spec.model, data.num_classes, data.in_channels,
                                                        spec.seed).parameters()]
    pattern = wan_model.comm_pattern(spec.method, shapes, world, spec.momentum, spec.delay, spec.period,
                                     spec.ratio, spec.powersgd_rank)
    rows = []
    for latency_ms in spec.latencies_ms:
        for bandwidth_mbps in spec.bandwidths_mbps:
            # Measured again before every point: on a shared machine the load drifts within a job.
            t1 = single_rank_step_s(comm, spec, data, group)
            predicted = wan_model.step_seconds(t1, pattern, latency_ms, bandwidth_mbps)
            warm, measured = plan_steps(spec, pattern, predicted)
            link = EmulatedLink(comm, LinkSpec.from_units(latency_ms, bandwidth_mbps))
            method = build(spec, spec.method, spec.options(), link, data, warm + measured)
            snapshot = {}

            def mark(step, link=link, snapshot=snapshot):
                snapshot["sleep"] = link.link_counters.sleep_seconds
                snapshot["wire"] = link.link_counters.wire_bytes
                snapshot["wait"] = comm.counters.wait_seconds

            comm.take_counters()
            comm.barrier()
            stamps = timed_steps(method, data, world, rank, spec, warm + measured, [warm - 1], mark,
                                 desc=f"{spec.method} L={latency_ms:g}ms B={bandwidth_mbps:g}Mb/s")
            sleep = link.link_counters.sleep_seconds - snapshot["sleep"]
            wire = link.link_counters.wire_bytes - snapshot["wire"]
            # DDP-based methods wait inside backward (not separable); their link time is known exactly.
            wait = comm.counters.wait_seconds - snapshot["wait"] if getattr(method, "wait_measured", True) \
                else sleep
            method.finish()
            step_s = (stamps[-1] - stamps[warm - 1]) / measured
            _, slowest = comm.agree(step_s)  # the group is as fast as its slowest rank
            # The slowest rank's compute sets the pace (the others' extra wait is for it).
            _, compute_s = comm.agree(step_s - wait / measured)
            rows.append({
                "latency_ms": latency_ms, "bandwidth_mbps": bandwidth_mbps, "world_size": world,
                "warmup_steps_measured_after": warm, "measured_steps": measured,
                "step_s": slowest, "steps_per_s": 1.0 / slowest, "single_rank_step_s": t1,
                "single_rank_steps_per_s": 1.0 / t1, "scalability": t1 / slowest,
                "wait_per_step_s": comm.mean([wait / measured])[0],
                "link_sleep_per_step_s": comm.mean([sleep / measured])[0],
                "compute_per_step_s": compute_s, "wire_bytes_per_step": wire / measured,
                "pattern_delay": pattern.delay, "pattern_period": pattern.period, "pattern_rounds": pattern.rounds,
                "pattern_wire_bytes": pattern.wire_bytes, "method_label": method.label,
            })
            comm.barrier()
    return rows


def machine_facts() -> dict:
    """What the timing depends on: cores this process may use, and the load when it ran."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    return {"cores_available": cores, "cpu_count": os.cpu_count(), "load_average_1_5_15": list(load),
            "torch_threads": torch.get_num_threads()}
