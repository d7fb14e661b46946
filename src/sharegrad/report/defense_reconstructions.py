"""Final reconstructions of the same images under every defense and level.

Columns: the first ``images`` attacked images of the cell (the same images in
every row, since attack i always attacks image i); rows: ground truth, then
one row per defense and level, baseline first. Each tile is labelled with its
SSIM and the words ``sharegrad.claims.tiers.classify`` gives it (pixel-exact,
recognisable, not recovered, diverged), the same test every table counts with.
Reads the per-image CSV and the arrays each row points to. Options: ``model``,
``batch_size`` (which cell), ``images`` (columns, default 4).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sharegrad.errors import UserError
from sharegrad.pipeline import defenses as pipeline_defenses
from sharegrad.claims.tiers import classify
from sharegrad.report import register_figure
from sharegrad.report.defense_curves import select_cell
from sharegrad.report.defense_table import level_label, sort_key
from sharegrad.report.style import plt, save


def final_image(arrays_path: str, position: int) -> tuple[np.ndarray, np.ndarray]:
    with np.load(arrays_path) as arrays:
        return arrays["truth"][position], arrays["final"][position]


@register_figure("defense_reconstructions", section="defenses", inputs=["defenses.csv"], subcategory="Defenses",
                 title="Reconstructions per defense and level",
                 options=lambda config: pipeline_defenses.figure_options(config, "reconstructions"))
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    table = select_cell(pd.read_csv(csv_paths[0]), options)
    verdicts = pd.Series(classify(table), index=table.index)
    images = (table[["image_index"]].drop_duplicates().sort_values("image_index")
              .head(int(options.get("images", 4))).image_index.tolist())
    cells = sorted({(d, lv) for d, lv in zip(table.defense, table.level)}, key=lambda c: sort_key(*c))
    fig, axes = plt.subplots(len(cells) + 1, len(images), figsize=(1.0 * len(images) + 1.4, 1.0 * len(cells) + 1.3),
                             squeeze=False)
    for c, image_index in enumerate(images):
        for r, (defense, level) in enumerate(cells, start=1):
            match = table[(table.defense == defense) & (table.level == level) & (table.image_index == image_index)]
            ax = axes[r][c]
            if match.empty:
                ax.text(0.5, 0.5, "not run", ha="center", va="center", fontsize=6, transform=ax.transAxes)
            else:
                row = match.iloc[0]
                truth, final = final_image(row["arrays"], int(row["position"]))
                ax.imshow(np.clip(final.transpose(1, 2, 0), 0, 1))
                ax.set_xlabel(f"SSIM {row.ssim:.2f}\n{verdicts[row.name]}", fontsize=6, labelpad=1)
                if not axes[0][c].images:
                    axes[0][c].imshow(np.clip(truth.transpose(1, 2, 0), 0, 1))
            if c == 0:
                # the family too: gaussian and laplacian levels are both variances
                label = level_label(defense, level)
                ax.set_ylabel(label if defense in ("none", label) or label.startswith(defense) else f"{defense}, {label}",
                              fontsize=6, rotation=0, ha="right", va="center")
        axes[0][c].set_title(f"image {image_index}", fontsize=7)
    axes[0][0].set_ylabel("ground truth", fontsize=6, rotation=0, ha="right", va="center")
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    if not any(ax.images for ax in axes[0]):
        raise UserError("no reconstruction arrays could be drawn")
    first = table.iloc[0]
    fig.suptitle(f"DLG reconstructions under defenses: {first.dataset}, {first.model}, batch size "
                 f"{first.batch_size}, {int(first.iterations)} L-BFGS steps", fontsize=8)
    fig.tight_layout()
    save(fig, output)
