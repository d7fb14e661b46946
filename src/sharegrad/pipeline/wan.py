"""What the WAN rules (workflow/rules/wan.smk) ask of the config: jobs, paths, CLI arguments.

A job is one sync method with its options; it measures every (latency,
bandwidth) of the grid in one process group, so torchrun starts once per
method, not once per point. Its path spells the method's options.

Paper-scale emulation (``wan.setup.compute_s``, ``wan.setup.payload_parameters``,
see ``wan/measure.py``) applies to every job; an entry of ``wan.methods`` may
give its own ``latency_ms``, ``bandwidth_mbps`` and ``payload_parameters``
(null: the model's own), e.g. a latency sweep beside the section's grid. Those
and the options of newer methods are spelled in the path only when given, so
the paths of the other jobs stay as they were.
"""

from __future__ import annotations

import json
import shlex

from sharegrad import grid
from sharegrad.errors import UserError
from sharegrad.pipeline.common import sync_method_takes

JOB_DEFAULTS = {"delay": 0, "period": 1, "ratio": 0.01, "powersgd_rank": 2, "warmup_steps": 0}
# Spelled in the path only when the entry gives them.
OPTIONAL = {"outer_lr": 0.7, "outer_momentum": 0.9, "fragments": 1, "overlap": 0, "mix": 0.0,
            "topk_exchange": "slotted"}
LINK_KEYS = ("latency_ms", "bandwidth_mbps", "payload_parameters")
JOB_KEYS = ["method", *JOB_DEFAULTS, *OPTIONAL, *LINK_KEYS]
# Which of a job's options a method takes is read off its own ``options=`` declaration (sync/__init__.py); the
# others must keep their defaults. topk_exchange is the link emulation's, not the method's (stages/wan.py
# validate_emulation checks it).
EMULATION_OPTIONS = {"topk_exchange": ("delayed_sparse_topk",)}


def method_takes(method: str, key: str) -> bool:
    """Whether the job option ``key`` applies to the registered sync method ``method``."""
    if key in EMULATION_OPTIONS:
        return method in EMULATION_OPTIONS[key]
    return sync_method_takes(method, key)


NO_PAYLOAD = "own"  # path value of payload_parameters: null


def _path_value(value) -> str:
    if isinstance(value, list):
        return "_".join(f"{v:g}" if isinstance(v, (int, float)) else str(v) for v in value)
    return NO_PAYLOAD if value is None else str(value)


def wan_jobs(config: dict) -> list[dict]:
    from sharegrad.stages.wan import validate_emulation

    setup = config["wan"]["setup"]
    jobs, seen = [], set()
    for i, spec in enumerate(config["wan"]["methods"]):
        unknown = set(spec) - set(JOB_KEYS)
        if unknown:
            raise UserError(f"wan.methods: unknown key(s) {sorted(unknown)}; use {JOB_KEYS}")
        if "method" not in spec:
            raise UserError(f"wan.methods: an entry without a method: {spec}")
        job = {"method": spec["method"], **{k: spec.get(k, v) for k, v in JOB_DEFAULTS.items()}}
        job.update({k: spec[k] for k in (*OPTIONAL, *LINK_KEYS) if k in spec})
        base = job["method"].removesuffix("_nocomp")
        for key in (*JOB_DEFAULTS, *OPTIONAL):
            default = JOB_DEFAULTS.get(key, OPTIONAL.get(key))
            if not method_takes(job["method"], key) and str(job.get(key, default)) != str(default):
                raise UserError(f"wan.methods: method {job['method']} takes no {key} (got {job[key]})")
        if job["method"] == "ddp":
            raise UserError("wan.methods: ddp cannot run over the emulated link (it waits inside backward); "
                            "use sync")
        payload = job["payload_parameters"] if "payload_parameters" in job else setup.get("payload_parameters")
        validate_emulation(setup.get("compute_s"), payload, job.get("topk_exchange", "slotted"), base,
                           config["wan"]["steps"].get("settle_steps", 1), prefix=f"wan.methods[{i}].")
        # link values as the path spells them (a list joined by "_", null as "own"): the job is its path
        job.update({k: _path_value(job[k]) for k in LINK_KEYS if k in job})
        key = grid.cell_path(job)
        if key not in seen:
            seen.add(key)
            jobs.append(job)
    return jobs


def wan_run_files(config: dict) -> list[str]:
    root = f"results/{config['name']}"
    return [f"{root}/wan/{grid.cell_path(job)}/points.json" for job in wan_jobs(config)]


def wan_cli_args(config: dict, job_path: str) -> str:
    job = grid.parse_cell_path(job_path)
    section = config["wan"]
    setup, steps = section["setup"], section["steps"]
    latencies = job["latency_ms"].split("_") if "latency_ms" in job else section["latency_ms"]
    bandwidths = job["bandwidth_mbps"].split("_") if "bandwidth_mbps" in job else section["bandwidth_mbps"]
    args = ["--method", job["method"], "--dataset", setup["dataset"], "--data-root", setup["data_root"],
            "--model", setup["model"], "--batch-size", setup["batch_size"], "--lr", setup["lr"],
            "--momentum", setup["momentum"], "--weight-decay", setup["weight_decay"], "--seed", config["seed"],
            "--latency-ms", *latencies, "--bandwidth-mbps", *bandwidths,
            "--min-steps", steps["min_steps"], "--min-cycles", steps["min_cycles"],
            "--point-budget-s", steps["point_budget_s"], "--baseline-steps", steps["baseline_steps"],
            "--threads", 1, "--comm-timeout", section["comm_timeout"]]
    if "settle_steps" in steps:
        args += ["--settle-steps", steps["settle_steps"]]
    if "compute_s" in setup:
        args += ["--compute-s", setup["compute_s"]]
    payload = job.get("payload_parameters", setup.get("payload_parameters"))
    if payload is not None and str(payload) != NO_PAYLOAD:
        args += ["--payload-parameters", payload]
    for key in (*JOB_DEFAULTS, *OPTIONAL):
        if key in job and method_takes(job["method"], key):
            args += [f"--{key.replace('_', '-')}", job[key]]
    return " ".join(shlex.quote(str(a)) for a in args)


def wan_ranks(config: dict) -> int:
    return int(config["wan"]["ranks"])


def wan_projection_inputs(config: dict) -> str:
    """Shell-quoted JSON for the rule's command line."""
    return shlex.quote(json.dumps(config["wan"]["paper_scale"], sort_keys=True))


def wan_table_options(config: dict) -> str:
    table = config["wan"]["table"]
    return json.dumps({"config": config["name"], "latency_ms": table["latency_ms"],
                       "bandwidth_mbps": table["bandwidth_mbps"]})


def wan_figure_options(config: dict) -> str:
    return json.dumps({"config": config["name"]})
