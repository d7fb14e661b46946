"""One rank's training loop: shard, sync method, per-epoch metrics, checkpoints.

``train(spec, comm, device)`` runs on every rank of a process group (or
alone, world size 1) and returns the run's record; the ``sharegrad train``
stage wraps it for torchrun. Tests call the same function inside a local
process group.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from sharegrad.defenses import apply_defense
from sharegrad.errors import UserError
from sharegrad.provenance import config_hash
from sharegrad.seeding import derive_seed
from sharegrad.sync import SyncOptions, build_sync_method
from sharegrad.sync.comm import Communicator
from sharegrad.sync.sgd import OptimizerConfig
from sharegrad.train import checkpoint
from sharegrad.train.data import TrainData, get_batch, load_train_data, steps_per_epoch
from sharegrad.train.models import build_train_model


DILOCO_DEFAULTS = {"outer_lr": 0.7, "outer_momentum": 0.9, "fragments": 1, "overlap": 0, "mix": 0.0}


@dataclass
class TrainSpec:
    dataset: str = "digits"
    data_root: str | None = None
    model: str = "digits_cnn"
    method: str = "sync"
    delay: int = 0
    period: int = 1
    ratio: float = 0.01
    powersgd_rank: int = 2
    warmup_steps: int = 0
    outer_lr: float = 0.7         # diloco / streaming_diloco (sync/diloco.py)
    outer_momentum: float = 0.9
    fragments: int = 1
    overlap: int = 0
    mix: float = 0.0
    epochs: int = 10
    max_steps: int | None = None  # stop early (tests); None: epochs x steps per epoch
    batch_size: int = 32          # per rank
    lr: float = 0.05
    momentum: float = 0.0
    weight_decay: float = 0.0
    schedule: str = "constant"
    dtype: str = "float32"        # float64: comparisons against the reference free of float32 rounding
    augment: bool = False
    defense: str = "none"
    defense_level: float = 0.0
    seed: int = 0
    checkpoint_every: int = 0     # steps; 0: no checkpoints
    die_at_step: int | None = None  # fault injection for tests: this rank exits at this step
    die_rank: int = 0

    def sync_options(self) -> SyncOptions:
        return SyncOptions(delay=self.delay, period=self.period, ratio=self.ratio, rank=self.powersgd_rank,
                           warmup_steps=self.warmup_steps, outer_lr=self.outer_lr,
                           outer_momentum=self.outer_momentum, fragments=self.fragments, overlap=self.overlap,
                           mix=self.mix)

    def optimizer(self, total_steps: int) -> OptimizerConfig:
        return OptimizerConfig(self.lr, self.momentum, self.weight_decay, self.schedule, total_steps)

    def validate(self) -> None:
        """Everything that can be refused before any process group exists."""
        method = build_sync_method(self.method, self.sync_options())  # validates the options too
        if self.checkpoint_every and not method.supports_checkpoints:
            raise UserError(f"sync method {self.method!r} does not checkpoint; run it without --checkpoint-every")
        self.optimizer(1).validate()
        if self.epochs < 1:
            raise UserError(f"epochs must be >= 1, got {self.epochs}")
        if self.max_steps is not None and self.max_steps < 1:
            raise UserError(f"max_steps must be >= 1, got {self.max_steps}")
        if self.batch_size < 1:
            raise UserError(f"batch size must be >= 1, got {self.batch_size}")
        if self.checkpoint_every < 0:
            raise UserError(f"checkpoint_every must be >= 0, got {self.checkpoint_every}")
        if self.dtype not in ("float32", "float64"):
            raise UserError(f"dtype must be float32 or float64, got {self.dtype!r}")
        if self.defense_level < 0:
            raise UserError(f"defense level must be >= 0, got {self.defense_level}")

    def fingerprint(self, world_size: int) -> str:
        settings = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("die_at_step", "die_rank")}
        # Options added with DiLoCo leave the fingerprint of a run that does not set them as it was, so
        # checkpoints written before they existed still resume.
        for name, default in DILOCO_DEFAULTS.items():
            if settings[name] == default:
                del settings[name]
        return config_hash({**settings, "world_size": world_size})


def evaluate(model: torch.nn.Module, data: TrainData, device: torch.device, batch: int = 1000) -> tuple[float, float]:
    model.eval()
    dtype = next(model.parameters()).dtype
    correct, loss_sum = 0, 0.0
    with torch.no_grad():
        for start in range(0, len(data.y_test), batch):
            x = data.x_test[start:start + batch].to(device, dtype)
            y = data.y_test[start:start + batch].to(device)
            out = model(x)
            loss_sum += float(F.cross_entropy(out, y, reduction="sum"))
            correct += int((out.argmax(1) == y).sum())
    return correct / len(data.y_test), loss_sum / len(data.y_test)


def make_defense(spec: TrainSpec, rank: int):
    if spec.defense == "none":
        return None

    def defend(grads, step):
        return apply_defense(spec.defense, spec.defense_level, grads,
                             derive_seed(spec.seed, f"defense:rank{rank}:step{step}"))

    return defend


def broadcast_buffers(model: torch.nn.Module, comm: Communicator) -> None:
    """Rank 0's buffers (BatchNorm running statistics and batch counts) onto every rank.

    DDP (``broadcast_buffers=True``) does this before every forward. In training mode BatchNorm
    normalises with batch statistics, so the buffers change nothing but themselves, and rank 0's
    buffers under DDP are rank 0's own running statistics: sending them where they are read (before
    each evaluation, and at the end) gives every rank DDP's rank-0 buffers without a blocking
    collective per step, which would stall a delayed update. One counted collective per dtype, none
    for a model without buffers."""
    buffers = list(model.buffers())
    if not buffers or comm.world_size == 1:
        return
    for dtype in dict.fromkeys(b.dtype for b in buffers):
        group = [b for b in buffers if b.dtype == dtype]
        flat = torch.cat([b.detach().reshape(-1) for b in group])
        comm.broadcast(flat, src=0)
        offset = 0
        for b in group:
            b.data.copy_(flat[offset:offset + b.numel()].view_as(b))
            offset += b.numel()


def state_sums(model: torch.nn.Module) -> tuple[float, float]:
    """(sum of the parameters, sum of the buffers) in float64: equal on every rank when ranks agree."""
    weights = float(sum(p.detach().double().sum() for p in model.parameters()))
    buffers = float(sum(b.detach().double().sum() for b in model.buffers()))
    return weights, buffers


def _new_epoch_totals() -> dict:
    return {"loss_sum": 0.0, "batches": 0, "train_seconds": 0.0}


def train(spec: TrainSpec, comm: Communicator, device: torch.device, checkpoint_dir: Path | None = None,
          trace: bool = False, progress: bool = True, data: TrainData | None = None) -> dict:
    spec.validate()
    rank, world = comm.rank, comm.world_size
    data = data or load_train_data(spec.dataset, spec.data_root, spec.augment)
    per_epoch = steps_per_epoch(len(data.y_train), world, spec.batch_size)
    total = spec.max_steps if spec.max_steps is not None else spec.epochs * per_epoch
    optim = spec.optimizer(total)

    dtype = getattr(torch, spec.dtype)
    model = build_train_model(spec.model, data.num_classes, data.in_channels, spec.seed).to(device, dtype)
    method = build_sync_method(spec.method, spec.sync_options())
    method.setup(model, optim, comm, make_defense(spec, rank))
    if trace and hasattr(method, "trace"):  # only sharegrad's own SGD methods can trace
        method.trace = []

    # Traffic counted before this run (a communicator reused by a harness or a benchmark) is no part of it.
    comm.take_counters()
    # One writer per checkpoint folder: a second run (or an orphaned rank of a killed one) is refused.
    lock = checkpoint.FolderLock.acquire(Path(checkpoint_dir), comm) if checkpoint_dir is not None else None
    try:
        fingerprint = spec.fingerprint(world)
        start_step, history, totals = 0, [], _new_epoch_totals()
        if checkpoint_dir is not None:
            state = checkpoint.load(checkpoint_dir, comm, fingerprint, device)
            if state is not None:
                model.load_state_dict(state["model"])
                method.load_state_dict(state["method"])
                start_step, history, totals = state["step"], state["history"], state["totals"]
                # The traffic of the resumed epoch's steps before the checkpoint belongs in its row.
                comm.restore_counters(state.get("counters", {}))  # older checkpoints: from zero
        lowest, highest = comm.agree(start_step)
        if lowest != highest:
            raise UserError(f"ranks resume from different steps ({lowest:g} and {highest:g}); delete {checkpoint_dir}")

        began = time.perf_counter()
        finished = False
        steps = range(start_step, total)
        for step in tqdm(steps, desc=f"{method.label} rank {rank}", disable=not progress or rank != 0, mininterval=5):
            if spec.die_at_step == step and spec.die_rank in (rank, -1):  # -1: every rank
                os._exit(3)  # a crash, not an exception: no cleanup, peers see a dead rank
            epoch, in_epoch = divmod(step, per_epoch)
            x, y = get_batch(data, world, rank, spec.batch_size, epoch, in_epoch, spec.seed, step)
            x, y = x.to(device, dtype), y.to(device)

            def closure(module):
                module.train()
                loss = F.cross_entropy(module(x), y)
                loss.backward()
                return loss.item()

            step_began = time.perf_counter()
            totals["loss_sum"] += method.train_step(step, closure)
            if step + 1 == total:
                # The final flush belongs to the last step: its bytes, collectives and wait go into the
                # last row, whose evaluation then sees the final weights.
                method.finish()
                finished = True
            totals["train_seconds"] += time.perf_counter() - step_began
            totals["batches"] += 1

            if (step + 1) % per_epoch == 0 or step + 1 == total:
                broadcast_buffers(model, comm)
                history.append(_epoch_row(epoch, step + 1, totals, model, method, data, comm, device, spec))
                totals = _new_epoch_totals()
            if checkpoint_dir is not None and spec.checkpoint_every and (step + 1) % spec.checkpoint_every == 0 \
                    and step + 1 < total:
                state = {"step": step + 1, "model": model.state_dict(), "method": method.state_dict(),
                         "history": history, "totals": totals}
                # After state_dict(): waiting there for in-flight collectives adds to the counted wait.
                state["counters"] = comm.counters.as_dict()
                checkpoint.save(checkpoint_dir, comm, step + 1, state, fingerprint, lock)

        if not finished:  # checkpoints are written before the last step only, so the loop ran it
            raise UserError(f"nothing left to train after the checkpoint in {checkpoint_dir}; delete it")
        # The last row already broadcast the buffers after finish(): every rank holds rank 0's, and all
        # of this run's traffic is in its rows (nothing is left to leak into a reused communicator).
        accuracy, test_loss = evaluate(model, data, device)
        acc_low, acc_high = comm.agree(accuracy)
        weight_sum, buffer_sum = state_sums(model)
        sum_low, sum_high = comm.agree(weight_sum)
        buffer_low, buffer_high = comm.agree(buffer_sum)
        return {
            "label": method.label, "world_size": world, "steps_per_epoch": per_epoch, "total_steps": total,
            "resumed_from_step": start_step, "curves": history,
            "final": {"test_accuracy": accuracy, "test_loss": test_loss, "test_accuracy_min_rank": acc_low,
                      "test_accuracy_max_rank": acc_high, "weight_sum_spread": sum_high - sum_low,
                      "buffer_sum_spread": buffer_high - buffer_low},
            "wall_time_s": time.perf_counter() - began,
            "model": model, "trace": getattr(method, "trace", None) if trace else None,
        }
    finally:
        if lock is not None:
            lock.release()


def _epoch_row(epoch, steps_done, totals, model, method, data, comm, device, spec) -> dict:
    counters = comm.take_counters()
    accuracy, test_loss = evaluate(model, data, device)
    mean_loss, mean_acc = comm.mean([totals["loss_sum"] / max(1, totals["batches"]), accuracy])
    low, high = comm.agree(accuracy)
    seconds = totals["train_seconds"]
    wait = counters.wait_seconds if getattr(method, "wait_measured", True) else math.nan
    return {
        "epoch": epoch + 1, "steps": steps_done, "train_loss": mean_loss, "test_accuracy": accuracy,
        "test_accuracy_mean_rank": mean_acc, "test_accuracy_min_rank": low, "test_accuracy_max_rank": high,
        "test_loss": test_loss, "train_seconds": seconds,
        "steps_per_s": totals["batches"] / seconds if seconds > 0 else math.nan,
        "samples_per_s": totals["batches"] * spec.batch_size * comm.world_size / seconds if seconds > 0 else math.nan,
        "bytes_sent": counters.bytes_sent, "payload_bytes": counters.payload_bytes, "collectives": counters.calls,
        "comm_wait_s": wait,
    }
