"""Markdown table: the accuracy cost of each DLG defense when the trainer applies it to every local gradient."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sharegrad.report import register_figure
from sharegrad.report.sample import seeds_line
from sharegrad.report.dtc_common import METHOD_KEYS, seed_summary, with_names
from sharegrad.report.style import write_text


@register_figure("dtc_defense_cost", section="dtc", inputs=["dtc.csv"], table=True, subcategory="Distributed training",
                 title="Accuracy cost of each defense (table)")
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    table = with_names(pd.read_csv(csv_paths[0]))
    summary = seed_summary(table, ["setup", "epochs", "method_name"] + METHOD_KEYS + ["defense", "defense_level"])
    rows = []
    for _, r in summary.iterrows():
        same = (summary.setup == r.setup) & (summary.epochs == r.epochs)
        for key in METHOD_KEYS:  # the same method with every setting equal, undefended
            same &= (summary[key] == r[key]) | (summary[key].isna() & pd.isna(r[key]))
        base = summary[same & (summary.defense == "none")]
        cost = 100 * (float(base["mean"].iloc[0]) - r["mean"]) if len(base) else float("nan")
        rows.append({"setup": r.setup, "epochs": int(r.epochs), "method": r.method_name, "defense": r.defense, "level": f"{r.defense_level:g}",
                     "test accuracy %": f"{100 * r['mean']:.2f}", "seeds": int(r["count"]),
                     "cost vs no defense (points)": f"{cost:+.2f}" if cost == cost else "-"})
    text = ("# DTS: accuracy cost of the DLG defenses\n\nEach defense transforms every rank's local gradient "
            "before communication, in the same trainer. Config: "
            f"{options.get('config', 'unknown')}.\n\n" + seeds_line(summary["count"]) + "\n\n"
            + pd.DataFrame(rows).to_markdown(index=False) + "\n")
    write_text(output, text)
