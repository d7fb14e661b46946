"""Experiment grids: a mapping of lists -> the list of cells, and back to paths.

A cell is a dict of parameters; its path spells them (``model~lenet/bs~1``),
so every output file says what produced it.
"""

from __future__ import annotations

import itertools
from typing import Any


def expand(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def cell_path(cell: dict[str, Any]) -> str:
    return "/".join(f"{key}~{value}" for key, value in cell.items())


def parse_cell_path(path: str) -> dict[str, str]:
    cell = {}
    for part in path.strip("/").split("/"):
        key, sep, value = part.partition("~")
        if not sep:
            raise ValueError(f"path component {part!r} is not of the form key~value")
        cell[key] = value
    return cell
