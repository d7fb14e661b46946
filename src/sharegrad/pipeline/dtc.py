"""What the DTS rules (workflow/rules/dtc.smk) ask of the config: runs, paths, CLI arguments.

A run is a cell: setup (data set, model, optimiser), method, its options,
defense and level, seed. Its path spells every key, defaults included, so
``sync`` with no defense is one job however many grids name it.
"""

from __future__ import annotations

import shlex

from sharegrad import grid
from sharegrad.errors import UserError
from sharegrad.pipeline.common import sync_method_takes

CELL_DEFAULTS = {"delay": 0, "period": 1, "ratio": 0.01, "powersgd_rank": 2, "warmup_steps": 0,
                 "defense": "none", "level": 0}
CELL_KEYS = ["setup", "method", "delay", "period", "ratio", "powersgd_rank", "warmup_steps", "defense", "level",
             "seed"]
DATA_FILES = {"digits": "data/digits/digits.npz", "cifar10": "data/cifar/cifar-10-batches-py/data_batch_1",
              "cifar100": "data/cifar/cifar-100-python/train"}
DATA_ROOTS = {"digits": "data/digits/digits.npz", "cifar10": "data/cifar", "cifar100": "data/cifar"}


# the cell options that set a sync method's SyncOptions (the others are the cell's setup, defense and seed)
SYNC_KEYS = ("delay", "period", "ratio", "powersgd_rank", "warmup_steps")
method_takes = sync_method_takes


def dtc_cells(config: dict) -> list[dict]:
    section = config["dtc"]
    cells, seen = [], set()
    for spec in section["runs"]:
        unknown = set(spec) - set(CELL_KEYS)
        if unknown:
            raise UserError(f"dtc.runs: unknown key(s) {sorted(unknown)}; use {CELL_KEYS}")
        full = {**{k: [v] for k, v in CELL_DEFAULTS.items()}, "seed": section["seeds"],
                "setup": list(section["setups"]), **spec}
        for cell in grid.expand(full):
            cell = {k: cell[k] for k in CELL_KEYS}
            if cell["setup"] not in section["setups"]:
                raise UserError(f"dtc.runs names setup {cell['setup']!r}, not in dtc.setups")
            key = grid.cell_path(cell)
            if key not in seen:
                seen.add(key)
                cells.append(cell)
    return cells


def dtc_run_files(config: dict) -> list[str]:
    root = f"results/{config['name']}"
    return [f"{root}/dtc/{grid.cell_path(cell)}/run.json" for cell in dtc_cells(config)]


def dtc_data_file(config: dict, cell_path: str) -> str:
    setup = config["dtc"]["setups"][grid.parse_cell_path(cell_path)["setup"]]
    return DATA_FILES[setup["dataset"]]


def dtc_cli_args(config: dict, cell_path: str) -> str:
    cell = grid.parse_cell_path(cell_path)
    setup = config["dtc"]["setups"][cell["setup"]]
    args = ["--dataset", setup["dataset"], "--data-root", DATA_ROOTS[setup["dataset"]], "--model", setup["model"],
            "--epochs", setup["epochs"], "--batch-size", setup["batch_size"], "--lr", setup["lr"],
            "--momentum", setup["momentum"], "--weight-decay", setup["weight_decay"],
            "--schedule", setup["schedule"], "--method", cell["method"], "--seed", cell["seed"],
            "--defense", cell["defense"], "--defense-level", cell["level"],
            "--device", config["device"], "--threads", config.get("threads", 1),
            "--comm-timeout", config["dtc"]["comm_timeout"]]
    # Only the options a method takes: the CLI refuses the others.
    # DiLoCo's H is its period; its outer optimiser and the streaming form's fragments and overlap run at the
    # papers' defaults (sync/diloco.py, sync/streaming_diloco.py): a grid sets them with `sharegrad train`.
    for key in SYNC_KEYS:
        if method_takes(cell["method"], key):
            args += [f"--{key.replace('_', '-')}", cell[key]]
        elif str(cell[key]) != str(CELL_DEFAULTS[key]):
            raise UserError(f"dtc.runs: method {cell['method']} takes no {key} (got {cell[key]})")
    if setup.get("augment"):
        args.append("--augment")
    return " ".join(shlex.quote(str(a)) for a in args)


def dtc_ranks(config: dict) -> int:
    return int(config["dtc"]["ranks"])
