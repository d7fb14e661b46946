"""What the Snakemake rules ask of the config: cells, chunks, paths, CLI arguments.

Kept here (not in the .smk files) so it is importable and tested without Snakemake.
"""

from __future__ import annotations

import json
import shlex

from sharegrad import grid
from sharegrad.errors import UserError

# Every image-attack cell spells all of these in its path, defaults included,
# so the no-defense baseline of a defense sweep is the same job as the plain run.
DLG_CELL_DEFAULTS = {"line_search": "none", "labels": "joint", "defense": "none", "level": 0}
DLG_CELL_KEYS = ["model", "batch_size", "attack", "line_search", "labels", "defense", "level", "iterations"]


def results_root(config: dict) -> str:
    return f"results/{config['name']}"


def figures_root(config: dict) -> str:
    """Where a config's figures and tables go: inside its own results, so two configs never share one."""
    return f"{results_root(config)}/figures"


def dlg_cells(config: dict, grids: list[dict] | None = None) -> list[dict]:
    """Cells of ``grids`` (default: ``dlg.grids``), each a dict over DLG_CELL_KEYS, without repeats."""
    cells, seen = [], set()
    for spec in config["dlg"]["grids"] if grids is None else grids:
        spec = dict(spec)
        attacks = spec.pop("attacks", None)  # a grid may run fewer or more attacks than attacks_per_cell
        for cell in grid.expand({**{k: [v] for k, v in DLG_CELL_DEFAULTS.items()}, **spec}):
            # The budget is spelled in the path: a grid may shorten it (smoke, defense sweeps).
            settings = config["dlg"].get("attack_settings", {}).get(cell["attack"], {})
            cell.setdefault("iterations", settings.get("iterations", 300))
            cell = {k: cell[k] for k in DLG_CELL_KEYS}
            if cell["labels"] == "idlg" and cell["batch_size"] != 1:
                raise UserError(f"dlg.grids: labels idlg reads one label and needs batch_size 1, got {cell['batch_size']}")
            key = grid.cell_path(cell)
            if key not in seen:
                seen.add(key)
                cells.append(cell if attacks is None else {**cell, "attacks": attacks})
    return cells


def cell_path(cell: dict) -> str:
    """The folder of a cell below ``dlg/``: its DLG_CELL_KEYS, in order."""
    return grid.cell_path({k: cell[k] for k in DLG_CELL_KEYS})


ENGINES = ("sequential", "batched")
BATCHED_ATTACKS = ("dlg",)  # what sharegrad/engine/ runs; other attacks' chunks stay sequential


def attack_engine(config: dict) -> tuple[str, int | None]:
    """The machine's attack engine and attacks per job, from the profile (``config:`` entries
    ``dlg_engine`` and ``attacks_per_job``), not from the experiment: how many attacks fill a
    job is a property of the machine. Without them: sequential, ``dlg.chunk_size`` per job."""
    engine = config.get("dlg_engine", "sequential")
    if engine not in ENGINES:
        raise UserError(f"dlg_engine must be one of {', '.join(ENGINES)}, not {engine!r} (set in the profile's config:)")
    per_job = config.get("attacks_per_job")
    if per_job is not None and (isinstance(per_job, bool) or not isinstance(per_job, int) or per_job < 1):
        raise UserError(f"attacks_per_job must be a positive integer, not {per_job!r} (set in the profile's config:)")
    return engine, per_job


def dlg_chunks(config: dict, cell: dict | None = None) -> list[str]:
    """Attack-index ranges, one job each: the profile's ``attacks_per_job`` (else the
    experiment's ``chunk_size``) attacks of the cell's count."""
    total = (cell or {}).get("attacks", config["dlg"]["attacks_per_cell"])
    size = attack_engine(config)[1] or config["dlg"]["chunk_size"]
    return [f"{start}-{min(start + size, total)}" for start in range(0, total, size)]


def dlg_chunk_dirs(config: dict, cells: list[dict] | None = None) -> list[str]:
    """Output folders of the dlg_attack jobs for ``cells`` (default: the cells of ``dlg.grids``)."""
    root = results_root(config)
    cells = dlg_cells(config) if cells is None else cells
    return [f"{root}/dlg/{cell_path(cell)}/chunk~{chunk}" for cell in cells for chunk in dlg_chunks(config, cell)]


def image_data_file(config: dict) -> str:
    """The file whose presence says the configured image set is ready (a rule makes it)."""
    name, split = config["data"]["image_dataset"], config["data"]["split"]
    if name == "cifar10":
        return f"data/cifar/cifar-10-batches-py/{'test_batch' if split == 'test' else 'data_batch_1'}"
    root = "data/embedded" if name == "embedded" else "data/cifar"
    return f"{root}/cifar-100-python/{split}"


def dlg_cli_args(config: dict, cell_path: str, chunk: str) -> str:
    cell = grid.parse_cell_path(cell_path)
    start, stop = chunk.split("-")
    attack_config = dict(config["dlg"].get("attack_settings", {}).get(cell["attack"], {}))
    attack_config["line_search"] = cell["line_search"]
    attack_config["labels"] = cell["labels"]
    attack_config["iterations"] = int(cell["iterations"])
    args = [
        "--dataset", config["data"]["image_dataset"], "--split", config["data"]["split"],
        "--model", cell["model"], "--batch-size", cell["batch_size"], "--attack", cell["attack"],
        "--attack-config", json.dumps(attack_config, sort_keys=True),
        "--defense", cell["defense"], "--defense-level", cell["level"],
        "--success-mse", config["dlg"]["success_mse"], "--seed", config["seed"],
        "--indices", f"{start}:{stop}", "--device", config["device"], "--threads", config.get("threads", 1),
    ]
    if attack_engine(config)[0] == "batched" and cell["attack"] in BATCHED_ATTACKS:
        args += ["--engine", "batched"]
    return " ".join(shlex.quote(str(a)) for a in args)


def reconstruction_figures(config: dict) -> dict[str, dict]:
    """``dlg.figures.reconstructions`` (name -> cell options); without it, ``main`` draws the first cell."""
    return config["dlg"].get("figures", {}).get("reconstructions") or {"main": {}}


def reconstruction_figure(config: dict, name: str) -> str:
    """``main`` is the headline figure; other entries of dlg.figures.reconstructions get a suffix."""
    stem = "dlg_reconstructions" if name == "main" else f"dlg_reconstructions_{name}"
    return f"{figures_root(config)}/{stem}.png"
