"""Defense sweep for text: token accuracy and ROUGE-L against the defense level, one line per family.

Reads ``text.csv`` at the largest budget; the undefended runs of the same
model and attack are drawn as a horizontal reference line.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sharegrad.errors import UserError
from sharegrad.report import register_figure
from sharegrad.report.style import plain_ticks, plt, save


@register_figure("text_defenses", section="text", inputs=["text.csv"], subcategory="Text", title="Text recovery per defense and level",
                 options=lambda config: config["text"]["figures"]["defenses"])
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    table = pd.read_csv(csv_paths[0])
    budget = int(options.get("budget", table.budget.max()))
    table = table[table.budget == budget]
    for key in ("model", "attack"):
        if key in options:
            table = table[table[key] == options[key]]
    defended = table[table.defense != "none"]
    if defended.empty:
        raise UserError("text_defenses needs runs with a defense other than none")
    cells = list(defended.groupby(["model", "attack"]))
    fig, axes = plt.subplots(len(cells), 2, figsize=(8, 3.0 * len(cells)), squeeze=False)
    for row, ((model, attack), cell) in enumerate(cells):
        baseline = table[(table.model == model) & (table.attack == attack) & (table.defense == "none")]
        for ax, column, label in zip(axes[row], ("token_accuracy", "rougeL_f"), ("token accuracy", "ROUGE-L F1")):
            for defense, runs in cell.groupby("defense"):
                means = runs.groupby("level")[column].mean()
                ax.plot(means.index, means.values, marker="o", label=defense)
            if not baseline.empty:
                ax.axhline(baseline[column].mean(), color="grey", linestyle="--", label="no defense")
            ax.set_xscale("symlog", linthresh=1e-4)
            ax.set_xlim(left=0)
            plain_ticks(ax.xaxis, [0] + list(cell.level.unique()))  # the levels run, as plain numbers
            ax.set_xlabel("defense level")
            ax.set_ylabel(label)
            ax.set_ylim(-0.03, 1.03)
            ax.set_title(f"{model}, {attack}", fontsize=8)
        axes[row][0].legend(fontsize=7)
    fig.suptitle(f"DLG on BERT under gradient defenses (mean over sentences, {budget} L-BFGS iterations)")
    save(fig, output)
