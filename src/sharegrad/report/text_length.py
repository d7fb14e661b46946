"""Recovery against sentence length: token accuracy and ROUGE-L per sentence, by model and attack.

Reads ``text.csv`` (undefended runs only, at the largest budget). Option
``budget`` picks another budget.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sharegrad.errors import UserError
from sharegrad.report import register_figure
from sharegrad.report.style import palette, plt, save, sns


@register_figure("text_length", section="text", inputs=["text.csv"], subcategory="Text", title="Recovery against sentence length")
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    table = pd.read_csv(csv_paths[0])
    table = table[table.defense == "none"]
    if table.empty:
        raise UserError("text_length needs undefended runs (defense none)")
    budget = int(options.get("budget", table.budget.max()))
    table = table[table.budget == budget]
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), sharex=True)
    cells = list(table.groupby(["model", "attack"]))
    colours = palette(len(cells))
    for colour, ((model, attack), cell) in zip(colours, cells):
        for ax, column in zip(axes, ("token_accuracy", "rougeL_f")):
            # every sentence a point, and the mean per length a line
            sns.scatterplot(data=cell, x="n_tokens", y=column, s=14, alpha=0.6, color=colour, ax=ax, legend=False)
            sns.lineplot(data=cell, x="n_tokens", y=column, estimator="mean", errorbar=None, color=colour,
                         label=f"{model}, {attack}", ax=ax, legend=False)
    for ax, label in zip(axes, ("token accuracy", "ROUGE-L F1")):
        ax.set_xlabel("sentence length (WordPiece tokens)")
        ax.set_ylabel(label)
        ax.set_ylim(-0.03, 1.03)
    axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"DLG on BERT: recovery against sentence length ({budget} L-BFGS iterations)")
    save(fig, output)
