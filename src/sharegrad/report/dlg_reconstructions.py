"""Slides-style "Recovering visualization": ground truth, then the dummy input over iterations.

Reads the per-image CSV (``dlg.csv``), picks the attacks of one cell and loads
the snapshot arrays each row points to. Each row ends with the image's final MSE and the words
``sharegrad.claims.tiers.classify`` gives it (pixel-exact, recognisable, not recovered, diverged),
the same test every table counts with. Options: ``model``, ``batch_size``,
``line_search``, ``labels``, ``attack`` (cell filter), ``rows`` (attacks shown),
``columns`` (snapshots shown, spread over the run).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sharegrad.errors import UserError
from sharegrad.pipeline import dlg as pipeline_dlg
from sharegrad.claims.tiers import classify
from sharegrad.report import register_figure
from sharegrad.report.style import plt, save

FILTER_KEYS = ("dataset", "model", "batch_size", "attack", "line_search", "labels", "iterations", "defense", "level")


def select(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    """The rows of one cell: those matching the options, then of the first such row's cell (its budget
    included), so attack i of two budgets or two defenses is never drawn as one attack."""
    for key in FILTER_KEYS:
        if key in options:
            table = table[table[key].astype(str) == str(options[key])]
    if table.empty:
        raise UserError(f"no rows match {({k: options[k] for k in FILTER_KEYS if k in options})}")
    first = table.iloc[0]
    for key in (k for k in FILTER_KEYS if k in table):
        table = table[table[key].isna()] if pd.isna(first[key]) else table[table[key] == first[key]]
    return table


def pick_columns(steps: np.ndarray, columns: int) -> list[int]:
    if len(steps) <= columns:
        return list(range(len(steps)))
    return sorted(set(np.linspace(0, len(steps) - 1, columns).round().astype(int).tolist()))


@register_figure("dlg_reconstructions", section="dlg", inputs=["dlg.csv"], subcategory="Images",
                 title="Reconstructions over the iterations",
                 instances=lambda config: pipeline_dlg.reconstruction_instances(config))
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    table = select(pd.read_csv(csv_paths[0]), options)
    verdicts = pd.Series(classify(table), index=table.index)
    attacks = table.drop_duplicates("attack_index").sort_values("attack_index").head(int(options.get("rows", 4)))
    panels = []  # one row of images per attacked image: (truth, [(step, image)], mse)
    for _, attack in attacks.iterrows():
        with np.load(attack["arrays"]) as arrays:
            steps = arrays["snapshot_steps"]
            chosen = pick_columns(steps, int(options.get("columns", 7)))
            for position in range(len(arrays["truth"])):
                row = table[(table.attack_index == attack.attack_index) & (table.position == position)].iloc[0]
                panels.append((arrays["truth"][position],
                               [(int(steps[c]), arrays["snapshots"][c][position]) for c in chosen], row))
    n_cols = 1 + max(len(p[1]) for p in panels)
    height = 0.85 * len(panels) + 0.55  # rows about as tall as the columns are wide: the images are square
    fig, axes = plt.subplots(len(panels), n_cols, figsize=(1.05 * n_cols, height), squeeze=False)
    # margins in inches, not fractions: a fractional top margin leaves a tall blank band above a 16-row grid
    fig.subplots_adjust(top=1 - 0.45 / height, bottom=0.1 / height)
    for r, (truth, snaps, row) in enumerate(panels):
        axes[r][0].imshow(np.clip(truth.transpose(1, 2, 0), 0, 1))
        axes[r][0].set_ylabel(f"#{int(row.image_index)}", fontsize=7)
        for c, (step, image) in enumerate(snaps, start=1):
            axes[r][c].imshow(np.clip(image.transpose(1, 2, 0), 0, 1))
            if r == 0:
                axes[r][c].set_title(f"iter {step}", fontsize=7)
        axes[r][-1].text(1.05, 0.5, f"MSE {row.mse:.1e}\n{verdicts[row.name]}", transform=axes[r][-1].transAxes,
                         fontsize=6, va="center")
        for ax in axes[r]:
            ax.set_xticks([]), ax.set_yticks([])
    axes[0][0].set_title("ground truth", fontsize=7)
    first = table.iloc[0]
    fig.suptitle(f"DLG on {first.dataset}: {first.model}, batch size {first.batch_size}, {first.attack}, "
                 f"line search {first.line_search}, labels {first.labels}"
                 + (f", {first.iterations:g} L-BFGS steps" if "iterations" in table else ""), fontsize=8,
                 y=1 - 0.12 / height)
    save(fig, output)
