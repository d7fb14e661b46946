"""Figures and tables, one module each, reading only aggregated CSVs.

Each module registers its renderer with what the pipeline needs to run it::

    @register_figure("dlg_summary", section="dlg", inputs=["dlg.csv"], table=True,
                     title="Summary per cell (table)", subcategory="Images",
                     options=lambda config: {...})
    def render(csv_paths: list[Path], output: Path, options: dict) -> None

``inputs`` are aggregated CSVs below ``results/<config>/`` (or a function of the
config giving them); ``section`` is the config section whose presence turns the
figure on; ``table`` makes it a Markdown table that the report shows as an HTML
page; ``caption`` is the report's caption (reStructuredText, Jinja with
``snakemake.config``), else ``workflow/report/<name>.rst``; ``options`` gives the
renderer's options from the config (the config's name is always added);
``instances`` gives several figures of one renderer (suffix -> options).
``workflow/rules/figures.smk`` makes one rule per registered figure, so adding a
figure is adding one module. ``sharegrad figure NAME --csv ... --out ...`` calls
the renderer by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from sharegrad.registry import Registry

FIGURES: Registry = Registry("figure", __name__)

DLG_PAPER = "Deep Leakage from Gradients"
DTS_PAPER = "Distributed Training Across the World"
# The paper a section's figures belong to (the report's categories).
PAPER_OF_SECTION = {"dlg": DLG_PAPER, "defenses": DLG_PAPER, "text": DLG_PAPER, "dtc": DTS_PAPER, "wan": DTS_PAPER}


@dataclass
class FigureSpec:
    name: str
    section: str
    inputs: list[str] | Callable[[dict], list[str]]
    title: str
    subcategory: str
    table: bool = False
    caption: str | None = None
    category: str | None = None
    options: Callable[[dict], dict] | None = None
    instances: Callable[[dict], dict[str, dict]] | None = None
    render: Callable | None = field(default=None, repr=False)

    def input_files(self, config: dict) -> list[str]:
        return list(self.inputs(config) if callable(self.inputs) else self.inputs)

    def paper(self) -> str:
        return self.category or PAPER_OF_SECTION.get(self.section, self.section)

    def outputs(self, config: dict) -> dict[str, dict]:
        """File stem -> renderer options: one entry, or one per instance (``NAME_SUFFIX``; suffix ``""``: NAME)."""
        base = {"config": config["name"], **(self.options(config) if self.options else {})}
        if self.instances is None:
            return {self.name: base}
        return {(self.name if not suffix else f"{self.name}_{suffix}"): {**base, **options}
                for suffix, options in self.instances(config).items()}


def register_figure(name: str, *, section: str | None = None, inputs=None, title: str | None = None,
                    subcategory: str | None = None, table: bool = False, caption: str | None = None,
                    category: str | None = None, options=None, instances=None):
    """Register a renderer; with ``section`` and ``inputs`` the pipeline also renders it for every
    config that has the section (one rule, from workflow/rules/figures.smk)."""

    def decorate(render):
        if section is not None:
            if inputs is None or title is None or subcategory is None:
                raise ValueError(f"figure {name!r}: a pipeline figure needs inputs, title and subcategory")
            render.figure_spec = FigureSpec(name, section, inputs, title, subcategory, table, caption, category,
                                            options, instances, render)
        return FIGURES.register(name)(render)

    return decorate

