"""Where a text attack stops: gradient-match loss and token accuracy against outer step, one line per sentence.

Reads ``text_curves.csv`` (undefended runs; option ``defense`` picks another, ``level`` its level). One
column of panels per model x attack: the loss on a log scale above, the token accuracy of the text decoded
at that step below (1.0: every token in place).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sharegrad.errors import UserError
from sharegrad.report import register_figure
from sharegrad.report.style import palette, plt, save


@register_figure("text_loss_curves", section="text", inputs=["text_curves.csv"], subcategory="Text",
                 title="Text attacks: loss and token accuracy over the iterations")
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    curves = pd.read_csv(csv_paths[0])
    defense = str(options.get("defense", "none"))
    curves = curves[curves.defense.astype(str) == defense]
    if "level" in options:
        curves = curves[curves.level.astype(float) == float(options["level"])]
    if curves.empty:
        raise UserError(f"text_loss_curves: no curves with defense {defense!r}"
                        + (f" at level {options['level']}" if "level" in options else ""))
    cells = list(curves.groupby(["model", "attack"]))
    fig, axes = plt.subplots(2, len(cells), figsize=(4.4 * len(cells), 5.6), squeeze=False, sharex="col")
    for column, ((model, attack), cell) in enumerate(cells):
        top, bottom = axes[0][column], axes[1][column]
        runs = list(cell.groupby(["sentence_id", "iterations", "level"]))
        for colour, ((sentence, iterations, _), run) in zip(palette(len(runs)), runs):
            run = run.sort_values("step")
            label = f"{sentence} ({iterations:g} steps)" if cell.iterations.nunique() > 1 else sentence
            top.plot(run.step, run.gradient_match_loss, color=colour, lw=1, label=label)
            bottom.plot(run.step, run.token_accuracy, color=colour, lw=1)
        top.set(yscale="log", ylabel="gradient-match loss", title=f"{model}, {attack}")
        bottom.set(xlabel="outer step (L-BFGS)", ylabel="token accuracy", ylim=(-0.03, 1.03))
        top.legend(fontsize=6)
    fig.suptitle(f"DLG on BERT: where the attack stops (defense {defense})")
    save(fig, output)
