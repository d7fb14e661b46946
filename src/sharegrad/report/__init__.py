"""Figures and tables, one module each, reading only aggregated CSVs.

Each module registers a renderer: ``@register_figure("dlg_summary")`` on a
function ``render(csv_paths: list[Path], output: Path, options: dict)``.
``sharegrad figure NAME --csv ... --out ...`` calls it.
"""

from sharegrad.registry import Registry

FIGURES: Registry = Registry("figure", __name__)
register_figure = FIGURES.register
