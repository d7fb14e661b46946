"""Stages of the WAN study: ``sharegrad wan-measure`` (one sync method over a grid of emulated
links; launch with torchrun), ``sharegrad aggregate-wan`` (points -> CSV, with the model's
prediction beside each point) and ``sharegrad wan-project`` (the model at paper scale).

    torchrun --standalone --nproc_per_node 2 -m sharegrad.cli wan-measure --method sync \
        --latency-ms 0 300 --bandwidth-mbps 15 1000 --out points.json
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from sharegrad.errors import UserError
from sharegrad.provenance import provenance
from sharegrad.stages.common import write_csv, write_json


def register_cli(subparsers) -> None:
    from sharegrad.wan.measure import MeasureSpec

    d = MeasureSpec()
    p = subparsers.add_parser("wan-measure", help="steps/s and scalability of a sync method over emulated links "
                              "(use torchrun)")
    p.add_argument("--method", default=d.method, help="a sync method, or delayed_sparse_topk")
    p.add_argument("--delay", type=int, default=d.delay)
    p.add_argument("--period", type=int, default=d.period)
    p.add_argument("--ratio", type=float, default=d.ratio)
    p.add_argument("--powersgd-rank", type=int, default=d.powersgd_rank)
    p.add_argument("--warmup-steps", type=int, default=d.warmup_steps)
    p.add_argument("--outer-lr", type=float, default=d.outer_lr, help="diloco, streaming_diloco")
    p.add_argument("--outer-momentum", type=float, default=d.outer_momentum, help="diloco, streaming_diloco")
    p.add_argument("--fragments", type=int, default=d.fragments, help="streaming_diloco: F")
    p.add_argument("--overlap", type=int, default=d.overlap, help="streaming_diloco: tau (inner steps)")
    p.add_argument("--mix", type=float, default=d.mix, help="streaming_diloco: alpha")
    p.add_argument("--dataset", default="digits")
    p.add_argument("--data-root", default=None)
    p.add_argument("--model", default=d.model)
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="per rank")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--momentum", type=float, default=d.momentum)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--latency-ms", type=float, nargs="+", required=True)
    p.add_argument("--bandwidth-mbps", type=float, nargs="+", required=True)
    p.add_argument("--min-steps", type=int, default=d.min_steps)
    p.add_argument("--min-cycles", type=int, default=d.min_cycles)
    p.add_argument("--point-budget-s", type=float, default=d.point_budget_s)
    p.add_argument("--baseline-steps", type=int, default=d.baseline_steps)
    p.add_argument("--settle-steps", type=int, default=d.settle_steps,
                   help="steps after the delayed windows' pipeline fills, before the clock starts")
    p.add_argument("--compute-s", type=float, default=None,
                   help="compute time per step: each rank's real forward+backward is padded by a timed wait up "
                        "to it (paper-scale emulation; ranks may then outnumber cores)")
    p.add_argument("--payload-parameters", type=int, default=None,
                   help="parameters whose gradients, weights or momentum are synchronised: the link carries real "
                        "tensors of that size (default: the model's own)")
    p.add_argument("--topk-exchange", default=d.topk_exchange, choices=None,
                   help="delayed_sparse_topk: slotted (the sum all-reduce it sends, charged as such) or all_gather "
                        "(charged as the all-gather of one slot per rank it stands for)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per rank")
    p.add_argument("--comm-timeout", type=float, default=120.0)
    p.add_argument("--out", required=True)
    p.set_defaults(handler=measure_handler)

    a = subparsers.add_parser("aggregate-wan", help="WAN points (JSON) -> CSV with the model's predictions")
    a.add_argument("runs", nargs="+")
    a.add_argument("--out", required=True)
    a.set_defaults(handler=aggregate_handler)

    j = subparsers.add_parser("wan-project", help="the WAN model at paper scale -> CSV")
    j.add_argument("--inputs", required=True, help="JSON: the paper-scale inputs (config wan.paper_scale)")
    j.add_argument("--out", required=True)
    j.set_defaults(handler=project_handler)


def spec_from_args(args):
    from sharegrad.wan.measure import MeasureSpec

    names = {f.name for f in dataclasses.fields(MeasureSpec)}
    values = {k: v for k, v in vars(args).items() if k in names}
    return MeasureSpec(**values, latencies_ms=args.latency_ms, bandwidths_mbps=args.bandwidth_mbps)


def validate(args, spec) -> None:
    spec.options().validate()
    if any(v < 0 for v in spec.latencies_ms):
        raise UserError(f"--latency-ms must be >= 0, got {spec.latencies_ms}")
    if any(not v > 0 for v in spec.bandwidths_mbps):
        raise UserError(f"--bandwidth-mbps must be > 0, got {spec.bandwidths_mbps}")
    for name in ("min_steps", "min_cycles", "baseline_steps", "batch_size"):
        if getattr(spec, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(spec, name)}")
    if args.threads < 1:
        raise UserError(f"--threads must be >= 1, got {args.threads}")
    if spec.method == "ddp":
        raise UserError("method ddp waits for DDP's buckets inside backward, where the emulated link cannot "
                        "delay them; measure sync instead (the same arithmetic)")
    validate_emulation(spec.compute_s, spec.payload_parameters, spec.topk_exchange, spec.method, spec.settle_steps,
                       prefix="--")


def validate_emulation(compute_s, payload_parameters, topk_exchange, method, settle_steps=1, prefix="--") -> None:
    """The paper-scale settings, refused in one line each (the CLI and the pipeline share this)."""
    dash = (lambda name: prefix + name.replace("_", "-")) if prefix == "--" else (lambda name: prefix + name)
    if compute_s is not None and not (isinstance(compute_s, (int, float)) and 0 < compute_s < 3600):
        raise UserError(f"{dash('compute_s')} must be a number of seconds in (0, 3600), got {compute_s!r}")
    if payload_parameters is not None and (isinstance(payload_parameters, bool)
                                           or not isinstance(payload_parameters, int) or payload_parameters < 1):
        raise UserError(f"{dash('payload_parameters')} must be a whole number of parameters >= 1, "
                        f"got {payload_parameters!r}")
    if topk_exchange not in ("slotted", "all_gather"):
        raise UserError(f"{dash('topk_exchange')} must be slotted or all_gather, got {topk_exchange!r}")
    if topk_exchange == "all_gather" and method != "delayed_sparse_topk":
        raise UserError(f"{dash('topk_exchange')} all_gather applies to delayed_sparse_topk only, not {method}")
    if payload_parameters is not None and method == "powersgd":
        raise UserError(f"{dash('payload_parameters')}: PowerSGD's bytes do not scale with the parameter count "
                        f"(they follow the layer shapes); measure it at the model's own size")
    if settle_steps < 1:
        raise UserError(f"{dash('settle_steps')} must be >= 1, got {settle_steps}")


def measure_handler(args) -> int:
    from sharegrad.train.data import load_train_data
    from sharegrad.train.launch import close_distributed, init_distributed
    from sharegrad.wan.measure import machine_facts, measure, model_parameters, payload_scale

    spec = spec_from_args(args)
    validate(args, spec)
    torch.set_num_threads(args.threads)
    data = load_train_data(args.dataset, args.data_root)
    payload_scale(spec, model_parameters(spec, data))  # refuses a payload below the model's own, before any group
    comm, device = init_distributed("cpu", args.comm_timeout)
    try:
        facts = machine_facts()
        if comm.world_size > facts["cores_available"] and spec.compute_s is None:
            raise UserError(f"{comm.world_size} ranks but {facts['cores_available']} cores: ranks would share cores "
                            f"and the timing would measure the scheduler")
        rows = measure(comm, spec, data)
        facts_after = machine_facts()
        if comm.rank == 0:
            settings = {**dataclasses.asdict(spec), "dataset": args.dataset, "threads": args.threads}
            write_json(Path(args.out), {
                "parameters": {**settings, "world_size": comm.world_size}, "seed": spec.seed,
                "machine": {"before": facts, "after": facts_after}, "points": rows,
                "provenance": provenance(device, settings)})
            for row in rows:
                print(f"{row['method_label']} L={row['latency_ms']:g} ms B={row['bandwidth_mbps']:g} Mb/s: "
                      f"{row['steps_per_s']:.2f} steps/s (1 rank {row['single_rank_steps_per_s']:.2f}), "
                      f"scalability {row['scalability']:.3f}, wait {1000 * row['wait_per_step_s']:.1f} ms/step")
    finally:
        close_distributed()
    return 0


def aggregate_handler(args) -> int:
    from sharegrad.wan.tables import points_table

    table = points_table([Path(f) for f in args.runs])
    write_csv(Path(args.out), table)
    print(f"wrote {args.out} ({len(table)} points)")
    return 0


def project_handler(args) -> int:
    from sharegrad.wan.tables import paper_projection

    try:
        inputs = json.loads(args.inputs)
    except json.JSONDecodeError as exc:
        raise UserError(f"--inputs is not JSON ({exc})") from None
    table = paper_projection(inputs)
    write_csv(Path(args.out), table)
    print(table.to_string(index=False))
    return 0


def read_points(file: Path) -> dict:
    try:
        return json.loads(Path(file).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"cannot read WAN run {file} ({exc}); delete it and rerun its rule") from None

