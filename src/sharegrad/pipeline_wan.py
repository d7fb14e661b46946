"""What the WAN rules (workflow/rules/wan.smk) ask of the config: jobs, paths, CLI arguments.

A job is one sync method with its options; it measures every (latency,
bandwidth) of the grid in one process group, so torchrun starts once per
method, not once per point. Its path spells the method's options.
"""

from __future__ import annotations

import json
import shlex

from sharegrad import grid
from sharegrad.errors import UserError

JOB_DEFAULTS = {"delay": 0, "period": 1, "ratio": 0.01, "powersgd_rank": 2, "warmup_steps": 0}
JOB_KEYS = ["method", *JOB_DEFAULTS]
# Options each method takes; the others must keep their defaults.
USES = {"delay": ("delayed", "delayed_sparse", "delayed_sparse_topk"),
        "period": ("sparse", "delayed_sparse", "delayed_sparse_topk", "localsgd"),
        "ratio": ("dgc", "delayed_sparse_topk"), "powersgd_rank": ("powersgd",),
        "warmup_steps": ("localsgd", "powersgd")}


def wan_jobs(config: dict) -> list[dict]:
    jobs, seen = [], set()
    for spec in config["wan"]["methods"]:
        unknown = set(spec) - set(JOB_KEYS)
        if unknown:
            raise UserError(f"wan.methods: unknown key(s) {sorted(unknown)}; use {JOB_KEYS}")
        if "method" not in spec:
            raise UserError(f"wan.methods: an entry without a method: {spec}")
        job = {"method": spec["method"], **{k: spec.get(k, v) for k, v in JOB_DEFAULTS.items()}}
        base = job["method"].removesuffix("_nocomp")
        for key, methods in USES.items():
            if base not in methods and str(job[key]) != str(JOB_DEFAULTS[key]):
                raise UserError(f"wan.methods: method {job['method']} takes no {key} (got {job[key]})")
        if job["method"] == "ddp":
            raise UserError("wan.methods: ddp cannot run over the emulated link (it waits inside backward); "
                            "use sync")
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
    args = ["--method", job["method"], "--dataset", setup["dataset"], "--data-root", setup["data_root"],
            "--model", setup["model"], "--batch-size", setup["batch_size"], "--lr", setup["lr"],
            "--momentum", setup["momentum"], "--weight-decay", setup["weight_decay"], "--seed", config["seed"],
            "--latency-ms", *section["latency_ms"], "--bandwidth-mbps", *section["bandwidth_mbps"],
            "--min-steps", steps["min_steps"], "--min-cycles", steps["min_cycles"],
            "--point-budget-s", steps["point_budget_s"], "--baseline-steps", steps["baseline_steps"],
            "--threads", 1, "--comm-timeout", section["comm_timeout"]]
    base = job["method"].removesuffix("_nocomp")
    for key, methods in USES.items():
        if base in methods:
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
