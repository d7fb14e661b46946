"""DLG's defense figure: gradient-match loss against L-BFGS step, one panel per family, one curve per level.

Reads the curves CSV of the defense sweep (``aggregate-dlg --curves``). Each
curve is the median over the cell's attacks (shaded: inter-quartile range);
the no-defense baseline is drawn in every panel for reference. Options:
``model``, ``batch_size`` (which cell; default the first in the file).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sharegrad.errors import UserError
from sharegrad.pipeline import defenses as pipeline_defenses
from sharegrad.report import register_figure
from sharegrad.report.defense_table import FAMILY_ORDER, family, level_label, sort_key
from sharegrad.report.style import plt, save, sns


# Every setting that defines a cell but the defense; iterations (the budget) where the CSV has it.
CELL_KEYS = ("dataset", "model", "batch_size", "attack", "line_search", "labels", "iterations")


def select_cell(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    keys = [k for k in CELL_KEYS if k in table]
    for key in keys:
        if key in options:
            table = table[table[key].astype(str) == str(options[key])]
    if table.empty:
        raise UserError(f"no rows match {options}")
    first = table.iloc[0]
    for key in keys:
        table = table[table[key].isna()] if pd.isna(first[key]) else table[table[key] == first[key]]
    return table


def quartiles(rows: pd.DataFrame) -> pd.DataFrame:
    losses = rows.groupby("step").gradient_match_loss
    return pd.DataFrame({"median": losses.median(), "low": losses.quantile(0.25), "high": losses.quantile(0.75),
                         "attacks": losses.count()})


@register_figure("defense_curves", section="defenses", inputs=["defenses_curves.csv"], subcategory="Defenses",
                 title="Gradient-match loss per defense and level",
                 options=lambda config: pipeline_defenses.figure_options(config, "curves"))
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    table = select_cell(pd.read_csv(csv_paths[0]), options)
    table = table[np.isfinite(table.gradient_match_loss)]
    families = sorted({family(d) for d in table.defense} - {"none"},
                      key=lambda f: FAMILY_ORDER.index(f) if f in FAMILY_ORDER else len(FAMILY_ORDER))
    if not families:
        raise UserError("the curves hold no defended cell (only defense none)")
    baseline = table[table.defense == "none"]
    fig, axes = plt.subplots(1, len(families), figsize=(3.2 * len(families), 3.0), squeeze=False, sharey=True)
    for ax, fam in zip(axes[0], families):
        rows = table[table.defense.map(family) == fam]
        cells = sorted({(d, lv) for d, lv in zip(rows.defense, rows.level)}, key=lambda c: sort_key(*c))
        colours = sns.color_palette("viridis", max(len(cells), 1))  # one hue per level, in order
        for colour, (defense, level) in zip(colours, cells):
            q = quartiles(rows[(rows.defense == defense) & (rows.level == level)])
            ax.plot(q.index, q["median"], color=colour, lw=1.3,
                    label=f"{level_label(defense, level)} (n={int(q.attacks.iloc[0])})")
            ax.fill_between(q.index, q.low, q.high, color=colour, alpha=0.15, lw=0)
        if len(baseline):
            q = quartiles(baseline)
            ax.plot(q.index, q["median"], color="black", ls="--", lw=1.0, label="no defense")
        ax.set_yscale("log")
        ax.set_title(fam)
        ax.set_xlabel("L-BFGS step")
        ax.legend(fontsize=6, frameon=False)
    axes[0][0].set_ylabel("gradient-match loss (median, IQR)")
    first = table.iloc[0]
    budget = f", {first.iterations:g} L-BFGS steps" if "iterations" in table else ""
    fig.suptitle(f"DLG against defenses on {first.dataset}: {first.model}, batch size {first.batch_size}, "
                 f"line search {first.line_search}{budget}", fontsize=9)
    fig.tight_layout()
    save(fig, output)
