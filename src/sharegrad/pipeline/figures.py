"""What the figure rules (workflow/rules/figures.smk) ask of the config: the registered figures and
tables whose section is in it (sharegrad/report/, one module each), and where the report finds a
module's caption.
"""

from __future__ import annotations

import os

from sharegrad.report import FIGURES, FigureSpec


def pipeline_figures(config: dict) -> list[FigureSpec]:
    """The registered figures whose section is in ``config``, by name."""
    specs = [getattr(FIGURES.get(name), "figure_spec", None) for name in FIGURES.names()]
    return [spec for spec in specs if spec is not None and spec.section in config]


def caption_file(spec: FigureSpec, cache: str = ".snakemake/sharegrad_captions") -> str:
    """The module's caption, written where the report reads it (rewritten only when it changed);
    a module without one: workflow/report/NAME.rst, relative to the rule files."""
    if spec.caption is None:
        return f"../report/{spec.name}.rst"
    path = os.path.abspath(f"{cache}/{spec.name}.rst")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not os.path.exists(path) or open(path).read() != spec.caption:
        with open(path, "w") as handle:
            handle.write(spec.caption)
    return path
