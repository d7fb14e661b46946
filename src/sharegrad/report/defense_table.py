"""Markdown table of the defense sweep: one row per model x batch size x defense x level.

Success = image MSE below the run's threshold after matching, attack not
diverged (as in dlg_summary). The verdict comes from the config's thresholds
(``defenses.verdict``): *leaks* when the success rate reaches
``leaks_min_success``; *stops* when it is at most ``stops_max_success`` and the
median SSIM is at most ``stops_max_ssim`` (a blurred but recognisable image
fails the MSE test, so success alone would call it stopped); else *partly*.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from sharegrad.errors import UserError
from sharegrad.pipeline import defenses as pipeline_defenses
from sharegrad.report import register_figure
from sharegrad.report.sample import few_said, note_for, sample_line
from sharegrad.report.stats import rate_with_interval
from sharegrad.report.style import write_text

CELL = ["dataset", "model", "batch_size", "attack", "line_search", "labels", "iterations"]
# Panel / family of each built-in defense; a plug-in defense gets a family of its own name.
FAMILIES = {"none": "none", "gaussian": "noise: Gaussian", "laplacian": "noise: Laplacian",
            "fp16": "precision", "bf16": "precision", "int8": "precision",
            "pruning": "pruning", "pruning_global": "pruning"}
FAMILY_ORDER = ["none", "noise: Gaussian", "noise: Laplacian", "precision", "pruning"]
VERDICT_KEYS = ("leaks_min_success", "stops_max_success", "stops_max_ssim")


def family(defense: str) -> str:
    return FAMILIES.get(defense, defense)


def sort_key(defense: str, level: float) -> tuple:
    fam = family(defense)
    rank = FAMILY_ORDER.index(fam) if fam in FAMILY_ORDER else len(FAMILY_ORDER)
    return (rank, fam, defense, float(level))


def level_label(defense: str, level: float) -> str:
    if defense == "none":
        return "no defense"
    if defense in ("gaussian", "laplacian"):
        return f"variance {level:g}"
    if defense.startswith("pruning"):
        return f"{'global ' if defense == 'pruning_global' else ''}ratio {level:g}"
    return defense if level == 0 else f"{defense} {level:g}"


def verdict(success_rate: float, median_ssim: float, thresholds: dict) -> str:
    missing = [k for k in VERDICT_KEYS if k not in thresholds]
    if missing:
        raise UserError(f"verdict thresholds lack {missing}; set defenses.verdict in the config")
    if success_rate >= thresholds["leaks_min_success"]:
        return "leaks"
    if success_rate <= thresholds["stops_max_success"] and median_ssim <= thresholds["stops_max_ssim"]:
        return "stops"
    return "partly"


def _median(series: pd.Series) -> float:
    values = pd.to_numeric(series, errors="coerce").replace([math.inf], 99.0).dropna()
    return float(values.median()) if len(values) else math.nan


def summarise(table: pd.DataFrame, thresholds: dict) -> pd.DataFrame:
    """One row per cell x defense x level with numeric columns (``rate``, ``median_*``) and ``verdict``."""
    table = table.copy()
    if "iterations" not in table:
        table["iterations"] = None
    table["iterations"] = table["iterations"].fillna(-1).astype(int)
    for column in ("ssim", "lpips"):
        if column not in table:
            table[column] = math.nan
    rows = []
    for key, group in table.groupby(CELL + ["defense", "level"], sort=False):
        cell = dict(zip(CELL + ["defense", "level"], key))
        successes = int(group.success.astype(bool).sum())
        rate = successes / len(group)
        median_ssim = _median(group.ssim)
        rows.append({
            **cell, "family": family(cell["defense"]), "images": len(group), "successes": successes,
            "attacks": int(group.attack_index.nunique()),
            "rate": rate, "median_mse": _median(group.mse), "median_psnr": _median(group.psnr),
            "median_ssim": median_ssim, "median_lpips": _median(group.lpips),
            "label_accuracy": float(group.label_correct.astype(bool).mean()),
            "verdict": verdict(rate, median_ssim, thresholds),
        })
    frame = pd.DataFrame(rows)
    order = sorted(range(len(frame)), key=lambda i: (tuple(str(frame.iloc[i][c]) for c in CELL),
                                                     sort_key(frame.iloc[i].defense, frame.iloc[i].level)))
    return frame.iloc[order].reset_index(drop=True)


def _fmt(value: float, spec: str) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def markdown(summary: pd.DataFrame) -> str:
    shown = pd.DataFrame({
        # every setting of the cell is a column (the budget included): rows that differ only in one of
        # them would otherwise read as duplicates
        "dataset": summary.dataset, "model": summary.model, "bs": summary.batch_size, "attack": summary.attack,
        "line search": summary.line_search, "labels": summary.labels, "iterations": summary.iterations,
        "defense": summary.defense,
        "level": [f"{v:g}" for v in summary.level], "images": summary.images,
        "success rate [95% CI]": [rate_with_interval(int(s), int(n)) for s, n in zip(summary.successes, summary.images)],
        "median MSE": [_fmt(v, ".2e") for v in summary.median_mse],
        "median PSNR (dB)": [_fmt(v, ".1f") for v in summary.median_psnr],
        "median SSIM": [_fmt(v, ".3f") for v in summary.median_ssim],
        "median LPIPS": [_fmt(v, ".3f") for v in summary.median_lpips],
        "label acc.": [f"{v:.0%}" for v in summary.label_accuracy],
        # a verdict of few attacks is the outcome on those images: it says so
        "verdict": [v + (f" ({few_said(n)})" if few_said(n) else "") for v, n in zip(summary.verdict, summary.attacks)],
    })
    return shown.to_markdown(index=False, disable_numparse=True)  # keep 3.2e-02 as written


def describe_thresholds(thresholds: dict) -> str:
    return (f"leaks: success rate >= {thresholds['leaks_min_success']:g}; stops: success rate <= "
            f"{thresholds['stops_max_success']:g} and median SSIM <= {thresholds['stops_max_ssim']:g}; else partly")


def sample(summary: pd.DataFrame, notes: list[dict] | None) -> str:
    """The table's line on what its sample can and cannot show (one entry per defense and level)."""
    cells = []
    for row in summary.to_dict("records"):
        level = "no defense" if row["defense"] == "none" else (
            row["defense"] if float(row["level"]) == 0 else f"{row['defense']} {float(row['level']):g}")
        label = f"{row['model']} batch {row['batch_size']} {level}"
        cells.append((label, int(row["successes"]), int(row["images"]), int(row["attacks"]), note_for(row, notes)))
    return sample_line(cells)


def read(csv_paths: list[Path], options: dict) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    table = pd.read_csv(csv_paths[0])
    if table.empty:
        raise UserError(f"{csv_paths[0]} holds no attacked images")
    thresholds = options.get("verdict")
    if not thresholds:
        raise UserError("the defense table needs --options '{\"verdict\": {...}}' (defenses.verdict in the config)")
    return table, summarise(table, thresholds), thresholds


@register_figure("defense_table", section="defenses", inputs=["defenses.csv"], table=True, subcategory="Defenses",
                 title="Success rate, SSIM and verdict per defense and level (table)",
                 options=lambda config: pipeline_defenses.table_options(config))
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    table, summary, thresholds = read(csv_paths, options)
    iterations = ", ".join(str(i) for i in sorted(summary.iterations.unique()))
    text = (f"# Defenses against DLG: per defense and level\n\n"
            f"Data: {', '.join(sorted(table.dataset.unique()))}; attack {', '.join(sorted(table.attack.unique()))} "
            f"with {iterations} L-BFGS steps; success: image MSE < {table.success_mse.iloc[0]:g} on [0, 1] "
            f"images, attack not diverged; interval: 95% Wilson. Verdict: {describe_thresholds(thresholds)}. "
            f"SSIM: scikit-image, 7x7 window; LPIPS: AlexNet v0.1 (n/a where the run had no LPIPS weights). "
            f"Device(s): {', '.join(sorted(table.device.unique()))}. Config: {options.get('config', 'unknown')}.\n\n"
            + sample(summary, options.get("notes")) + "\n\n"
            + markdown(summary) + "\n")
    write_text(output, text)
