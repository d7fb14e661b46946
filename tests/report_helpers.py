"""Shared by the report tests: hand-written CSVs, the markdown tables a module writes, the figure it plots."""

from __future__ import annotations

import re

import pandas as pd

SEPARATOR = re.compile(r"^:?-+:?$")


def write_csv(path, rows: list[dict]) -> str:
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


def markdown_tables(text: str) -> list[list[dict]]:
    """Every pipe table in ``text``, as a list of rows (header -> cell text)."""
    tables, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            current.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif current:
            header, *body = current
            body = [r for r in body if not all(SEPARATOR.match(c) for c in r)]
            tables.append([dict(zip(header, r)) for r in body])
            current = []
    return tables


class Captured:
    """Stands in for a module's ``save``: keeps the figure instead of writing a PNG."""

    def __init__(self):
        self.figures = []

    def __call__(self, fig, output) -> None:
        self.figures.append(fig)

    @property
    def fig(self):
        assert len(self.figures) == 1, f"{len(self.figures)} figures saved"
        return self.figures[0]


def capture(monkeypatch, module) -> Captured:
    captured = Captured()
    monkeypatch.setattr(module, "save", captured)
    return captured


def lines_by_label(ax) -> dict:
    return {line.get_label(): line.get_xydata().tolist() for line in ax.lines}


def assert_lines(actual: dict, expected: dict) -> None:
    """Same labels, and each label's points equal to within float rounding."""
    import numpy as np

    assert set(actual) == set(expected), (sorted(actual), sorted(expected))
    for label, points in expected.items():
        assert np.shape(actual[label]) == np.shape(points) and np.allclose(actual[label], points), (label, actual[label])
