"""Markdown table: one row per cell (model x batch size x attack x line search x labels x budget x defense).

Success = image MSE below the run's threshold after matching, and the attack
not diverged; diverged attacks count as failures, never dropped. The budget
(``iterations``, outer L-BFGS steps) and the defense are part of the cell and
shown, so two budgets or two defenses in one CSV never merge into one row.

Pixel-exact success suits DLG, which matches gradients until the image is
recovered; Inverting Gradients (cosine distance, a TV prior, Adam) is built to
give a recognisable image, not a pixel-exact one, so every cell is also judged
by a perceptual criterion (LPIPS at most ``RECOGNISABLE_LPIPS``), shown next to
the pixel-exact rate with the median PSNR, SSIM and LPIPS.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sharegrad import pipeline
from sharegrad.metrics.iterations import iterations_to_success
from sharegrad.report import register_figure
from sharegrad.report.sample import few_said, note_for, sample_line
from sharegrad.report.stats import rate_with_interval
from sharegrad.report.style import write_text

# Recognisable: LPIPS (AlexNet) at most this; the criterion suited to attacks that are not pixel-exact.
RECOGNISABLE_LPIPS = 0.2
CELL = ["dataset", "model", "batch_size", "attack", "line_search", "labels", "iterations", "defense", "level"]


def recognisable(group: pd.DataFrame, max_lpips: float = RECOGNISABLE_LPIPS) -> str:
    """Rate of images with LPIPS <= max_lpips, attack not diverged (n/a where the run had no LPIPS weights)."""
    lpips = pd.to_numeric(group.get("lpips", pd.Series([float("nan")] * len(group))), errors="coerce")
    if lpips.isna().all():
        return "n/a"
    hits = (lpips <= max_lpips) & (group.status != "diverged")
    return rate_with_interval(int(hits.sum()), len(group))


def _median(series, spec: str) -> str:
    values = pd.to_numeric(series, errors="coerce").replace([float("inf")], 99.0).dropna()
    return format(values.median(), spec) if len(values) else "n/a"


def summarise(table: pd.DataFrame, cell: list[str] = CELL, max_lpips: float = RECOGNISABLE_LPIPS) -> pd.DataFrame:
    rows = []
    cell = [c for c in cell if c in table]  # a CSV from before a column existed has one value of it
    for key, group in table.groupby(cell, sort=True, dropna=False):
        attacks = group.drop_duplicates("attack_index")
        successes = group[group.success.astype(bool)]
        few = few_said(len(attacks))
        rows.append({
            **dict(zip(cell, key)),
            "images": len(group),
            # fewer than FEW_IMAGES attacks: the outcome on those images, not a rate (the line above the table)
            "attacks": f"{len(attacks)}" + (" (few)" if few else ""),
            "success rate [95% CI]": rate_with_interval(int(group.success.astype(bool).sum()), len(group)),
            f"recognisable (LPIPS <= {max_lpips:g}) [95% CI]": recognisable(group, max_lpips),
            "diverged attacks": f"{int((attacks.status == 'diverged').sum())}/{len(attacks)}",
            "median MSE": f"{group.mse.median():.2e}",
            "median PSNR (dB)": _median(group.psnr, ".1f"),
            "median SSIM": _median(group.get("ssim", pd.Series(dtype=float)), ".3f"),
            "median LPIPS": _median(group.get("lpips", pd.Series(dtype=float)), ".3f"),
            "label accuracy": f"{group.label_correct.astype(bool).mean():.0%}",
            "median iters to success": iterations_to_success(group).value_text(),
            "wall s / attack": f"{attacks.wall_time_s.median():.1f}",
            "ms / evaluation": f"{1000 * attacks.seconds_per_evaluation.median():.1f}",
        })
    return pd.DataFrame(rows)


@register_figure("dlg_summary", section="dlg", inputs=["dlg.csv"], table=True, subcategory="Images",
                 title="Summary per cell: success rate, MSE, labels, time (table)",
                 options=lambda config: pipeline.summary_options(config))
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    table = pd.read_csv(csv_paths[0])
    max_lpips = float(options.get("recognisable_lpips", RECOGNISABLE_LPIPS))
    summary = summarise(table, max_lpips=max_lpips)
    threshold = table.success_mse.iloc[0]
    devices = ", ".join(sorted(table.device.unique()))
    cells = []
    for key, group in table.groupby([c for c in CELL if c in table], sort=True, dropna=False):
        row = dict(zip([c for c in CELL if c in table], key))
        label = (f"{row['model']} batch {row['batch_size']} {row['attack']}"
                 + (f" {row['iterations']:g} steps" if "iterations" in row else ""))
        cells.append((label, int(group.success.astype(bool).sum()), len(group), group.attack_index.nunique(),
                      note_for(row, options.get("notes"))))
    text = (f"# DLG on images: summary\n\n"
            f"Success (pixel-exact): image MSE < {threshold:g} on [0, 1] images after optimal matching, attack not "
            f"diverged. Recognisable: LPIPS (AlexNet) <= {max_lpips:g}, attack not diverged: the criterion for "
            f"attacks built to give a recognisable image rather than a pixel-exact one (Inverting Gradients). "
            f"Interval: 95% Wilson. iterations: the attack's budget (outer steps). Device(s): {devices}. "
            f"Config: {options.get('config', 'unknown')}.\n\n"
            + sample_line(cells) + "\n\n"
            + summary.to_markdown(index=False) + "\n")
    write_text(output, text)
