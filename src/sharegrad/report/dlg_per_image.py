"""Markdown table: one row per reconstructed image of the selected cells.

For the few attacks the headline cells afford (ResNet18 at batch size 8: one or
two batches on a CPU), a rate says little; the table shows each image: its
MSE, PSNR, SSIM and LPIPS after matching, its true and recovered label, its
verdict under the claims file's two success tiers (``sharegrad.claims.tiers.classify``:
pixel-exact, recognisable, not recovered or diverged), and the first outer step at
which it was below the success threshold (``-`` if never). Each cell also counts its
pixel-exact and recognisable images.
Options: ``model``, ``batch_size``, ``attack``, ``labels``, ``iterations``
(filters, each optional); ``looser``, the multiples of the success threshold at which each cell also
counts its images (default 2, 5, 10: how far a verdict at the threshold rests on where it is drawn;
figure ``dlg_threshold`` draws the rate against every threshold).
Rendered for a config whose ``dlg.figures`` has a
``per_image`` entry (a table of every image of a paper-size sweep would be thousands of rows).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sharegrad.claims import tiers
from sharegrad.errors import UserError
from sharegrad.report import register_figure
from sharegrad.report.style import write_text

FILTERS = ("model", "batch_size", "attack", "line_search", "labels", "iterations")
CELL = ["model", "batch_size", "attack", "line_search", "labels", "iterations", "defense", "level"]


def select(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    for key in FILTERS:
        if options.get(key) is not None:
            table = table[table[key].astype(str) == str(options[key])]
    if table.empty:
        raise UserError(f"no images match {({k: options[k] for k in FILTERS if options.get(k) is not None})}")
    return table


def _number(value, spec: str) -> str:
    value = pd.to_numeric(value, errors="coerce")
    return "n/a" if pd.isna(value) else format(float(value), spec)


def looser_line(cell: pd.DataFrame, threshold: float, factors) -> str:
    """How many of the cell's images fall below each multiple of the threshold (same matching, not diverged)."""
    if (isinstance(factors, (str, bytes)) or not hasattr(factors, "__iter__")
            or not all(isinstance(f, (int, float)) and not isinstance(f, bool) and f > 0 for f in factors)):
        raise UserError(f"dlg_per_image: option 'looser' must be a list of positive numbers, got {factors!r}")
    counts = [f"MSE < {factor * threshold:g}: {int(tiers.recovered(cell, tiers.PIXEL_EXACT, factor * threshold).sum())}"
              f" of {len(cell)}" for factor in factors]
    return "At looser thresholds (same matching, diverged attacks not counted): " + "; ".join(counts) + "."


def tier_counts(cell: pd.DataFrame) -> str:
    """``3 of 16 images pixel-exact, 14 of 16 recognisable.`` (each tier counted through claims.tiers)."""
    said = [f"{int(tiers.recovered(cell, tier).sum())} of {len(cell)} images {tiers.LABELS[tier]}"
            for tier in tiers.TIERS if tiers.has_tier(cell, tier)]
    return ", ".join(said) + "."


def per_image(table: pd.DataFrame) -> pd.DataFrame:
    rows = []
    table = table.sort_values(["attack_index", "position"])
    verdicts = pd.Series(tiers.classify(table), index=table.index)
    for index, image in table.iterrows():
        step = pd.to_numeric(image.get("first_success_step"), errors="coerce")
        rows.append({
            "attack": int(image.attack_index), "position": int(image.position), "image": int(image.image_index),
            "MSE": f"{float(image.mse):.2e}", "PSNR (dB)": _number(image.psnr, ".1f"),
            "SSIM": _number(image.get("ssim"), ".3f"), "LPIPS": _number(image.get("lpips"), ".3f"),
            "true label": int(image.true_label), "recovered label": int(image.recovered_label),
            "tier": verdicts[index],
            "first step below threshold": "-" if pd.isna(step) else f"{step:.0f}",
            "attack status": str(image.status),
        })
    return pd.DataFrame(rows)


@register_figure("dlg_per_image", section="dlg", inputs=["dlg.csv"], table=True, subcategory="Images",
                 title="Per image: MSE, PSNR, SSIM, LPIPS, label, first step of success (table)",
                 instances=lambda config: ({"": dict(config["dlg"].get("figures", {})["per_image"])}
                                           if "per_image" in config["dlg"].get("figures", {}) else {}))
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    table = select(pd.read_csv(csv_paths[0]), options)
    threshold = table.success_mse.iloc[0]
    parts = [f"# DLG on images: every image\n\nTier (experiments/claims.yaml, `tiers`): *pixel-exact*, image MSE < "
             f"{threshold:g} on [0, 1] images after optimal matching; else *recognisable*, LPIPS (AlexNet) <= "
             f"{tiers.recognisable_lpips():g}; else *not recovered*; *diverged* if the attack diverged (never "
             f"recovered under either tier). Each attack is one batch; position is the image's place in it.\n"]
    for key, cell in table.groupby([c for c in CELL if c in table], sort=True, dropna=False):
        row = dict(zip([c for c in CELL if c in table], key))
        title = (f"{row['model']}, batch size {row['batch_size']}, {row['attack']} ({row['line_search']}), labels "
                 f"{row['labels']}, {row['iterations']:g} steps, defense {row['defense']} {row['level']:g}")
        parts.append(f"## {title}\n\n{tier_counts(cell)} "
                     f"{looser_line(cell, threshold, options.get('looser', (2, 5, 10)))}\n\n"
                     + per_image(cell).to_markdown(index=False, disable_numparse=True) + "\n")
    write_text(output, "\n".join(parts))
