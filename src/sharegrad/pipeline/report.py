"""What the report's rule (workflow/rules/report.smk) makes: the provenance table of every result of a
config, beside its figures.
"""

from __future__ import annotations

import os

from sharegrad.pipeline.common import figures_root, results_root


def provenance_files(config: dict) -> tuple[str, str]:
    """The provenance table (Markdown) and its HTML page."""
    root = figures_root(config)
    return f"{root}/provenance.md", f"{root}/provenance.html"


def provenance_inputs(config: dict, targets: list[str]) -> list[str]:
    """Every other target of the run, so the table covers every result."""
    own = set(provenance_files(config))
    return [target for target in targets if target not in own]


def results_folder(config: dict) -> str:
    """The folder whose run records the table reads."""
    return os.path.normpath(results_root(config))
