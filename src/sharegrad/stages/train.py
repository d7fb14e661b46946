"""Stage: ``sharegrad train``, one distributed training run (launch it with torchrun).

    torchrun --standalone --nproc_per_node 2 --no-python sharegrad train --method delayed --delay 4 ...

Without torchrun it runs as a single rank. Rank 0 writes the run's JSON
(parameters, seed, per-epoch curves, final accuracy, provenance) and, with
``--curves``, the curves as CSV. Settings that make no sense are refused
before any process group is joined.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pandas as pd
import torch

from sharegrad.errors import UserError
from sharegrad.provenance import provenance
from sharegrad.stages.common import atomic_path, write_json
from sharegrad.train.trainer import TrainSpec


def register_cli(subparsers) -> None:
    p = subparsers.add_parser("train", help="one distributed training run (sync, DTS, baselines); use torchrun")
    d = TrainSpec()
    p.add_argument("--dataset", default=d.dataset, help="digits | cifar10 | cifar100")
    p.add_argument("--data-root", default=None, help="digits .npz file or CIFAR root folder")
    p.add_argument("--model", default=d.model, help="digits_cnn | resnet20 | resnet18")
    p.add_argument("--method", default=d.method, help="a sync method (sharegrad/sync/): sync, delayed, sparse, "
                   "delayed_sparse, *_nocomp, dgc, localsgd, powersgd, ddp, diloco, streaming_diloco; with diloco "
                   "--period is H, the inner steps between outer steps")
    p.add_argument("--delay", type=int, default=d.delay, help="t: steps an average arrives late")
    p.add_argument("--period", type=int, default=d.period, help="p: steps between synchronisations")
    p.add_argument("--ratio", type=float, default=d.ratio, help="fraction of entries dgc sends")
    p.add_argument("--powersgd-rank", type=int, default=d.powersgd_rank)
    p.add_argument("--warmup-steps", type=int, default=d.warmup_steps, help="localsgd / powersgd warm-up")
    p.add_argument("--outer-lr", type=float, default=d.outer_lr, help="diloco / streaming_diloco: outer Nesterov lr")
    p.add_argument("--outer-momentum", type=float, default=d.outer_momentum, help="outer Nesterov momentum")
    p.add_argument("--fragments", type=int, default=d.fragments, help="streaming_diloco: fragments F")
    p.add_argument("--overlap", type=int, default=d.overlap,
                   help="streaming_diloco: inner steps tau a fragment's outer update arrives late")
    p.add_argument("--mix", type=float, default=d.mix,
                   help="streaming_diloco: alpha, share of the local fragment kept when its update arrives")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="per rank")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--momentum", type=float, default=d.momentum)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--schedule", default=d.schedule, help="constant | cosine")
    p.add_argument("--dtype", default=d.dtype, help="float32 | float64")
    p.add_argument("--augment", action="store_true", help="CIFAR random crop and flip")
    p.add_argument("--defense", default=d.defense, help="a DLG defense applied to the local gradient")
    p.add_argument("--defense-level", type=float, default=d.defense_level)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (rank r takes GPU LOCAL_RANK)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per rank")
    p.add_argument("--latency-ms", type=float, default=None, help="emulated link latency (sharegrad.wan.link)")
    p.add_argument("--bandwidth-mbps", type=float, default=None, help="emulated link bandwidth (Mb/s)")
    p.add_argument("--comm-timeout", type=float, default=60.0,
                   help="seconds a rank waits for a silent peer before stopping with an error")
    p.add_argument("--checkpoint-dir", default=None, help="resume from / write checkpoints here")
    p.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every, help="steps (0: never)")
    p.add_argument("--out", required=True, help="the run's JSON (written by rank 0)")
    p.add_argument("--curves", default=None, help="per-epoch curves as CSV (rank 0)")
    p.add_argument("--save-model", default=None, help="rank 0's final state_dict (.pt)")
    p.add_argument("--die-at-step", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--die-rank", type=int, default=0, help=argparse.SUPPRESS)
    p.set_defaults(handler=handler)


def spec_from_args(args) -> TrainSpec:
    names = {f.name for f in dataclasses.fields(TrainSpec)}
    return TrainSpec(**{k: v for k, v in vars(args).items() if k in names})


def handler(args) -> int:
    from sharegrad.train.launch import close_distributed, init_distributed
    from sharegrad.train.trainer import train

    spec = spec_from_args(args)
    spec.validate()
    if args.threads < 1:
        raise UserError(f"--threads must be >= 1, got {args.threads}")
    if args.comm_timeout <= 0:
        raise UserError(f"--comm-timeout must be > 0, got {args.comm_timeout}")
    torch.set_num_threads(args.threads)
    comm, device = init_distributed(args.device, args.comm_timeout)
    # The emulated wide-area link wraps the Communicator; without options it is the Communicator.
    from sharegrad.wan.link import wrap
    comm = wrap(comm, args.latency_ms, args.bandwidth_mbps)
    try:
        result = train(spec, comm, device, Path(args.checkpoint_dir) if args.checkpoint_dir else None)
        if comm.rank == 0:
            write_outputs(args, spec, result, device, comm)
    finally:
        close_distributed()
    return 0


def write_outputs(args, spec: TrainSpec, result: dict, device, comm) -> None:
    settings = dataclasses.asdict(spec)
    record = {
        "parameters": {**settings, "world_size": comm.world_size, "backend": _backend(device),
                       "comm_timeout_s": args.comm_timeout,
                       "link": {"latency_ms": args.latency_ms, "bandwidth_mbps": args.bandwidth_mbps}},
        "seed": spec.seed, "method_label": result["label"], "steps_per_epoch": result["steps_per_epoch"],
        "total_steps": result["total_steps"], "resumed_from_step": result["resumed_from_step"],
        "final": result["final"], "curves": result["curves"], "wall_time_s": result["wall_time_s"],
        "provenance": provenance(device, settings),
    }
    write_json(Path(args.out), record)
    if args.curves:
        tmp = atomic_path(Path(args.curves))
        pd.DataFrame(result["curves"]).to_csv(tmp, index=False)
        tmp.replace(args.curves)
    if args.save_model:
        tmp = atomic_path(Path(args.save_model))
        torch.save(result["model"].state_dict(), tmp)
        tmp.replace(args.save_model)
    final = result["final"]
    print(f"{result['label']}: final test accuracy {final['test_accuracy']:.4f} "
          f"(ranks {final['test_accuracy_min_rank']:.4f}..{final['test_accuracy_max_rank']:.4f}), "
          f"spread over ranks: weight sum {final['weight_sum_spread']:.3g}, buffer sum "
          f"{final['buffer_sum_spread']:.3g}; {result['total_steps']} steps, {result['wall_time_s']:.1f} s")


def _backend(device) -> str:
    import torch.distributed as dist

    return dist.get_backend() if dist.is_initialized() else "none (single rank)"
