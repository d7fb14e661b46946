"""Figure: test accuracy and train loss per epoch, one line per method (mean over seeds), no defense."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from sharegrad.report import register_figure
from sharegrad.report.dtc_common import METHOD_KEYS, SETUP_KEYS, with_names
from sharegrad.report.style import save


@register_figure("dtc_curves", section="dtc", inputs=["dtc_curves.csv"], subcategory="Distributed training",
                 title="Training loss and test accuracy over the epochs")
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    curves = with_names(pd.read_csv(csv_paths[0]))
    curves = curves[curves.defense == "none"]
    # one row of panels per setup and budget (epochs) and every other setting the setup states
    setups = list(curves.groupby(SETUP_KEYS, sort=True, dropna=False))
    fig, axes = plt.subplots(len(setups), 2, figsize=(9, 3.2 * len(setups)), squeeze=False)
    for row, (key, part) in zip(axes, setups):
        setup = f"{key[0]}, {int(part.epochs.iloc[0])} epochs"
        for key, group in part.groupby(["method_name"] + METHOD_KEYS, sort=True, dropna=False):
            name = key[0]
            mean = group.groupby("epoch")[["test_accuracy", "train_loss"]].mean()
            style = "--" if "no comp" in name else "-"
            row[0].plot(mean.index, 100 * mean.test_accuracy, style, label=name, lw=1)
            row[1].plot(mean.index, mean.train_loss, style, label=name, lw=1)
        row[0].set(xlabel="epoch", ylabel="test accuracy (%)", title=f"{setup}: test accuracy")
        row[1].set(xlabel="epoch", ylabel="train loss", yscale="log", title=f"{setup}: train loss (mean of ranks)")
    axes[0][1].legend(fontsize=6, ncol=2, loc="upper right")
    save(fig, output)
