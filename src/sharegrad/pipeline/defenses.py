"""What the defense-sweep rules (workflow/rules/defenses.smk) ask of the config (``defenses:``): cells
and their chunk folders.

The sweep's cells are ordinary image-attack cells (``pipeline.dlg.dlg_cells``):
the ``dlg_attack`` rule runs them in ``results/<name>/dlg/``, and the
no-defense baseline is the same job as a plain DLG run with the same budget.
A grid may set ``iterations`` (spelled in the path) and ``attacks``; the
section's ``attacks_per_cell`` is the default count.
"""

from __future__ import annotations

from sharegrad.pipeline import dlg
from sharegrad.metrics.lpips_weights import WEIGHTS_FILE


def lpips_weights_file(config: dict) -> str:
    """The LPIPS backbone every image attack scores with (the ``lpips_weights`` rule makes it)."""
    return str(WEIGHTS_FILE)


def section(config: dict) -> dict:
    return config["defenses"]


def grids(config: dict) -> list[dict]:
    default = section(config)["attacks_per_cell"]
    return [{"attacks": default, **spec} for spec in section(config)["grids"]]


def cells(config: dict) -> list[dict]:
    return dlg.dlg_cells(config, grids(config))


def chunk_dirs(config: dict) -> list[str]:
    return dlg.dlg_chunk_dirs(config, cells(config))


def figure_options(config: dict, name: str, **extra) -> dict:
    return {**section(config).get("figures", {}).get(name, {}), **extra}


def table_options(config: dict) -> dict:
    """The defense tables' options: the verdict thresholds and the grids' notes."""
    return {"verdict": section(config)["verdict"], "notes": dlg.cell_notes(config, grids(config))}
