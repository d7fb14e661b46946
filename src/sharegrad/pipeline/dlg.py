"""What the DLG image rules (workflow/rules/dlg.smk) ask of the config: cells, chunks, paths,
CLI arguments, and the notes and figure instances of its tables.
"""

from __future__ import annotations

import json
import shlex

from sharegrad import grid
from sharegrad.errors import UserError
from sharegrad.pipeline.common import figures_root, results_root

# Every image-attack cell spells these in its path, defaults included, so the
# no-defense baseline of a defense sweep is the same job as the plain run; an
# attack's own cell settings (CELL_SETTINGS) only where the attack takes them.
DLG_CELL_DEFAULTS = {"defense": "none", "level": 0}
DLG_CELL_KEYS = ["model", "batch_size", "attack", "line_search", "labels", "defense", "level", "iterations"]
# Settings a grid sweeps and a path spells for the attacks that declare them
# (``register_attack(name, cell_settings={"line_search": "none", "labels": "joint"})``,
# each with its default). An attack that declares nothing gets both, with these defaults.
CELL_SETTINGS = {"line_search": "none", "labels": "joint"}


def attack_cell_settings(name: str) -> dict:
    """The cell settings ``name`` takes, with their defaults (unknown names: pipeline.common reports them)."""
    from sharegrad.attacks import ATTACKS

    try:
        attack = ATTACKS.get(name)
    except UserError:
        return dict(CELL_SETTINGS)
    declared = getattr(attack, "cell_settings", None)
    return dict(CELL_SETTINGS) if declared is None else dict(declared)


def dlg_cells(config: dict, grids: list[dict] | None = None) -> list[dict]:
    """Cells of ``grids`` (default: ``dlg.grids``), each a dict over DLG_CELL_KEYS, without repeats."""
    cells, seen = [], set()
    for spec in config["dlg"]["grids"] if grids is None else grids:
        spec = dict(spec)
        attacks = spec.pop("attacks", None)  # a grid may run fewer or more attacks than attacks_per_cell
        spec.pop("note", None)  # words for the tables (cell_notes), not a setting
        for cell in grid.expand({**{k: [v] for k, v in DLG_CELL_DEFAULTS.items()}, **spec}):
            takes = attack_cell_settings(cell["attack"])
            for key in CELL_SETTINGS:
                if key not in takes and key in spec:
                    raise UserError(f"dlg.grids: attack {cell['attack']} takes no {key} (it declares "
                                    f"{sorted(takes) or 'no cell settings'}); give {key} only to attacks that take it")
                if key in takes:
                    cell.setdefault(key, takes[key])
                else:
                    cell.pop(key, None)
            # The budget is spelled in the path: a grid may shorten it (smoke, defense sweeps).
            settings = config["dlg"].get("attack_settings", {}).get(cell["attack"], {})
            cell.setdefault("iterations", settings.get("iterations", 300))
            cell = {k: cell[k] for k in DLG_CELL_KEYS if k in cell}
            if cell.get("labels") == "idlg" and cell["batch_size"] != 1:
                raise UserError(f"dlg.grids: labels idlg reads one label and needs batch_size 1, got {cell['batch_size']}")
            key = grid.cell_path(cell)
            if key not in seen:
                seen.add(key)
                cells.append(cell if attacks is None else {**cell, "attacks": attacks})
    return cells


def cell_path(cell: dict) -> str:
    """The folder of a cell below ``dlg/``: its DLG_CELL_KEYS (those its attack takes), in order."""
    return grid.cell_path({k: cell[k] for k in DLG_CELL_KEYS if k in cell})


ENGINES = ("sequential", "batched")
BATCHED_ATTACKS = ("dlg",)  # what sharegrad/engine/ runs; other attacks' chunks stay sequential
# Models the batched engine is measured faster for (benchmarks/attack_throughput.py, results/cpu/throughput/:
# LeNet 4.3x the sequential engine's attacks per hour on the CPU; ResNet18-sigmoid 0.66x at K=8). A model
# not measured faster runs sequentially whatever the profile's dlg_engine, so that no profile puts a model
# on the slower engine; add a model here with the benchmark's figure that shows it faster.
BATCHED_MODELS = ("lenet",)


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


def dlg_cli_args(config: dict, cell_path: str, chunk: str) -> str:
    cell = grid.parse_cell_path(cell_path)
    start, stop = chunk.split("-")
    attack_config = dict(config["dlg"].get("attack_settings", {}).get(cell["attack"], {}))
    for key in CELL_SETTINGS:  # only the cell settings the attack takes are in its cells
        if key in cell:
            attack_config[key] = cell[key]
    attack_config["iterations"] = int(cell["iterations"])
    args = [
        "--dataset", config["data"]["image_dataset"], "--split", config["data"]["split"],
        "--model", cell["model"], "--batch-size", cell["batch_size"], "--attack", cell["attack"],
        "--attack-config", json.dumps(attack_config, sort_keys=True),
        "--defense", cell["defense"], "--defense-level", cell["level"],
        "--success-mse", config["dlg"]["success_mse"], "--seed", config["seed"],
        "--indices", f"{start}:{stop}", "--device", config["device"], "--threads", config.get("threads", 1),
    ]
    if attack_engine(config)[0] == "batched" and cell["attack"] in BATCHED_ATTACKS and cell["model"] in BATCHED_MODELS:
        args += ["--engine", "batched"]
    return " ".join(shlex.quote(str(a)) for a in args)


# A cell's row in the tables: what the notes of its grid are matched on.
NOTE_KEYS = ["model", "batch_size", "attack", "line_search", "labels", "iterations", "defense", "level"]


def cell_notes(config: dict, grids: list[dict]) -> list[dict]:
    """The ``note`` of each grid, once per cell of that grid (its NOTE_KEYS beside the words)."""
    notes = []
    for spec in grids:
        if spec.get("note"):
            for cell in dlg_cells(config, [spec]):
                notes.append({**{k: cell[k] for k in NOTE_KEYS if k in cell},
                              "note": " ".join(str(spec["note"]).split())})
    return notes


def summary_options(config: dict) -> dict:
    """The DLG summary's options: the grids' notes."""
    return {"notes": cell_notes(config, config["dlg"]["grids"])}


def reconstruction_instances(config: dict) -> dict[str, dict]:
    """``dlg.figures.reconstructions`` as figure instances: ``main`` is the unsuffixed figure."""
    return {("" if name == "main" else name): options for name, options in reconstruction_figures(config).items()}


def reconstruction_figures(config: dict) -> dict[str, dict]:
    """``dlg.figures.reconstructions`` (name -> cell options); without it, ``main`` draws the first cell."""
    return config["dlg"].get("figures", {}).get("reconstructions") or {"main": {}}


def reconstruction_figure(config: dict, name: str) -> str:
    """``main`` is the headline figure; other entries of dlg.figures.reconstructions get a suffix."""
    stem = "dlg_reconstructions" if name == "main" else f"dlg_reconstructions_{name}"
    return f"{figures_root(config)}/{stem}.png"
