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

Paper-scale emulation, two settings beside latency and bandwidth:
- ``compute_s``: compute time per step. Each rank's real forward and backward
  pass (the model stays real) is padded by a timed wait up to ``compute_s``
  from the start of the pass; a pass that takes longer is not cut (counted in
  ``compute_overrun_steps``). The method's own arithmetic after the pass is
  real and comes on top. With padding the ranks mostly wait, so more ranks
  than cores is allowed.
- ``payload_parameters``: the number of parameters whose gradients, weights
  or momentum are synchronised. The link scales every collective by
  ``payload_parameters / (the model's parameters)`` and sends real filler
  tensors for the difference (``link.py``), so bytes and waits are measured.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
import torch.nn.functional as F
from tqdm import tqdm

from sharegrad.errors import UserError
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
    outer_lr: float = 0.7       # diloco / streaming_diloco (sync/diloco.py)
    outer_momentum: float = 0.9
    fragments: int = 1
    overlap: int = 0
    mix: float = 0.0
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
    settle_steps: int = 2       # steps after the delayed windows' pipeline fills, before the clock starts
    compute_s: float | None = None           # pad each forward+backward to this many seconds (None: real only)
    payload_parameters: int | None = None    # parameters synchronised over the link (None: the model's own)
    topk_exchange: str = "slotted"           # delayed_sparse_topk: slotted (as sent) | all_gather (as charged)

    def options(self) -> SyncOptions:
        return SyncOptions(delay=self.delay, period=self.period, ratio=self.ratio, rank=self.powersgd_rank,
                           warmup_steps=self.warmup_steps, outer_lr=self.outer_lr,
                           outer_momentum=self.outer_momentum, fragments=self.fragments, overlap=self.overlap,
                           mix=self.mix)


@dataclass
class ComputePadding:
    """Pads every forward+backward to ``compute_s`` seconds (None: no padding) and records the real time."""

    compute_s: float | None = None
    real_seconds: float = 0.0
    passes: int = 0
    overruns: int = 0  # passes whose real time alone exceeded compute_s
    clock: object = time.perf_counter
    sleep: object = time.sleep

    def run(self, work):
        began = self.clock()
        result = work()
        real = self.clock() - began
        self.real_seconds += real
        self.passes += 1
        if self.compute_s is not None:
            if real > self.compute_s:
                self.overruns += 1
            while (left := began + self.compute_s - self.clock()) > 0:
                self.sleep(left)
        return result


def _closure(x, y, padding: ComputePadding | None = None):
    def closure(module):
        def work():
            module.train()
            loss = F.cross_entropy(module(x), y)
            loss.backward()
            return loss.item()

        return work() if padding is None else padding.run(work)

    return closure


def timed_steps(method, data: TrainData, world: int, rank: int, spec: MeasureSpec, total: int,
                marks: list[int], on_mark=None, desc: str = "", padding: ComputePadding | None = None) -> list[float]:
    """Run ``total`` steps; the clock at the end of each step. ``on_mark(step)`` runs (untimed) after
    the steps in ``marks``."""
    per_epoch = steps_per_epoch(len(data.y_train), world, spec.batch_size)
    dtype = next(method.model.parameters()).dtype
    padding = padding if padding is not None else ComputePadding(spec.compute_s)
    stamps = []
    for step in tqdm(range(total), desc=desc, disable=rank != 0 or not desc, mininterval=5, leave=False):
        epoch, in_epoch = divmod(step, per_epoch)
        x, y = get_batch(data, world, rank, spec.batch_size, epoch, in_epoch, spec.seed, step)
        method.train_step(step, _closure(x.to(dtype), y, padding))
        stamps.append(time.perf_counter())
        if on_mark is not None and step in marks:
            on_mark(step)
    return stamps


def build(spec: MeasureSpec, name: str, options: SyncOptions, comm, data: TrainData, total_steps: int):
    model = build_train_model(spec.model, data.num_classes, data.in_channels, spec.seed)
    method = build_sync_method(name, options)
    method.setup(model, OptimizerConfig(spec.lr, spec.momentum, spec.weight_decay, "constant", total_steps), comm)
    return method


def plan_steps(spec: MeasureSpec, pattern: wan_model.Pattern, predicted_step_s: float,
               compute_s: float | None = None, latency_ms: float = 0.0, bandwidth_mbps: float = math.inf
               ) -> tuple[int, int]:
    """(warm-up steps, measured steps) for one point.

    A cycle is the span after which the waits repeat: p (t // p + 1) steps while latency decides the
    waits (overlapping windows alternate), p steps when the link is busy all the time (bandwidth-bound:
    every window waits the same, given ``compute_s`` and the link, as the model predicts it). Without a
    delay the pattern repeats from the first step, so only ``settle_steps`` go before the clock."""
    cycle = pattern.period * (pattern.delay // pattern.period + 1)
    if compute_s is not None and wan_model.bandwidth_bound(compute_s, pattern, latency_ms, bandwidth_mbps):
        cycle = pattern.period
    if spec.method == "streaming_diloco":  # fragments differ in size: whole rounds of all F of them
        cycle = math.lcm(cycle, spec.period)
    fill = pattern.delay + pattern.period if pattern.delay else 0
    if spec.method == "streaming_diloco":  # every fragment has started (and been waited for) once
        fill = spec.period + spec.overlap
    warm = fill + max(spec.settle_steps, spec.warmup_steps if spec.method == "localsgd" else 0,
                      spec.warmup_steps if spec.method == "powersgd" else 0)
    cycles = max(spec.min_cycles, math.ceil(spec.min_steps / cycle))
    affordable = math.floor(spec.point_budget_s / max(predicted_step_s * cycle, 1e-9))
    return warm, cycle * max(spec.min_cycles, min(cycles, affordable))


def solo_group(comm: Communicator):
    """A one-rank group for each rank (all ranks must call this together)."""
    return dist.new_subgroups(group_size=1)[0] if comm.world_size > 1 else None


def model_parameters(spec: MeasureSpec, data: TrainData) -> list[tuple[int, ...]]:
    return [tuple(p.shape) for p in build_train_model(spec.model, data.num_classes, data.in_channels,
                                                      spec.seed).parameters()]


def payload_scale(spec: MeasureSpec, shapes: list[tuple[int, ...]]) -> float:
    """How many times the real model's parameters the link carries (1: the model's own)."""
    numel = sum(math.prod(s) for s in shapes)
    if spec.payload_parameters is None:
        return 1.0
    if spec.payload_parameters < numel:
        raise UserError(f"payload of {spec.payload_parameters} parameters is smaller than model {spec.model}'s "
                        f"{numel}: the link can add bytes to a real tensor, not remove them")
    return spec.payload_parameters / numel


def emulated_pattern(spec: MeasureSpec, shapes: list[tuple[int, ...]], world: int) -> wan_model.Pattern:
    """The model's pattern of the method as the link carries it: the real model's bytes, scaled by the payload."""
    pattern = wan_model.comm_pattern(spec.method, shapes, world, spec.momentum, spec.delay, spec.period,
                                     spec.ratio, spec.powersgd_rank, topk_exchange=spec.topk_exchange,
                                     fragments=spec.fragments, overlap=spec.overlap)
    scale = payload_scale(spec, shapes)
    return dataclasses.replace(pattern, wire_bytes=int(round(pattern.wire_bytes * scale)))


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
    shapes = model_parameters(spec, data)
    pattern = emulated_pattern(spec, shapes, world)
    scale = payload_scale(spec, shapes)
    rows = []
    for latency_ms in spec.latencies_ms:
        for bandwidth_mbps in spec.bandwidths_mbps:
            # Measured again before every point: on a shared machine the load drifts within a job.
            t1 = single_rank_step_s(comm, spec, data, group)
            predicted = wan_model.step_seconds(t1, pattern, latency_ms, bandwidth_mbps)
            warm, measured = plan_steps(spec, pattern, predicted, spec.compute_s, latency_ms, bandwidth_mbps)
            link = EmulatedLink(comm, LinkSpec.from_units(latency_ms, bandwidth_mbps), payload_scale=scale,
                                gather_slots=spec.topk_exchange == "all_gather")
            padding = ComputePadding(spec.compute_s)
            method = build(spec, spec.method, spec.options(), link, data, warm + measured)
            snapshot = {}

            def mark(step, link=link, snapshot=snapshot, padding=padding):
                snapshot["sleep"] = link.link_counters.sleep_seconds
                snapshot["wire"] = link.link_counters.wire_bytes
                snapshot["filler"] = link.link_counters.filler_bytes
                snapshot["wait"] = comm.counters.wait_seconds
                snapshot["real"], snapshot["overruns"] = padding.real_seconds, padding.overruns

            comm.take_counters()
            comm.barrier()
            stamps = timed_steps(method, data, world, rank, spec, warm + measured, [warm - 1], mark,
                                 desc=f"{spec.method} L={latency_ms:g}ms B={bandwidth_mbps:g}Mb/s", padding=padding)
            sleep = link.link_counters.sleep_seconds - snapshot["sleep"]
            wire = link.link_counters.wire_bytes - snapshot["wire"]
            filler = link.link_counters.filler_bytes - snapshot["filler"]
            real_compute = (padding.real_seconds - snapshot["real"]) / measured
            _, overruns = comm.agree(padding.overruns - snapshot["overruns"])
            # DDP-based methods wait inside backward (not separable); their link time is known exactly.
            wait = comm.counters.wait_seconds - snapshot["wait"] if getattr(method, "wait_measured", True) \
                else sleep
            link.release()  # the clock has stopped: the final flush need not wait out the link's queue
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
                "compute_s": spec.compute_s, "payload_parameters": spec.payload_parameters,  # None: not set
                "payload_scale": scale, "filler_bytes_per_step": filler / measured,
                "real_compute_per_step_s": comm.mean([real_compute])[0], "compute_overrun_steps": int(overruns),
                "topk_exchange": spec.topk_exchange if spec.method == "delayed_sparse_topk" else "-",
            })
            comm.barrier()
    return rows


def machine_facts() -> dict:
    """What the timing depends on: cores this process may use, and the load when it ran."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    return {"cores_available": cores, "cpu_count": os.cpu_count(), "load_average_1_5_15": list(load),
            "torch_threads": torch.get_num_threads()}
