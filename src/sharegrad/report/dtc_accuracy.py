"""Markdown table: final test accuracy per method (mean, spread over seeds) and its difference from ``sync``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sharegrad.report import register_figure
from sharegrad.report.sample import seeds_line
from sharegrad.report.dtc_common import METHOD_KEYS, SETUP_KEYS, seed_summary, with_names
from sharegrad.report.style import write_text


ACCURACY = "test accuracy % (mean ± sd over n seeds; n = 1: the run's value)"
SEEDS = "n (seeds)"


@register_figure("dtc_accuracy", section="dtc", inputs=["dtc.csv"], table=True, subcategory="Distributed training",
                 title="Final test accuracy per method, against synchronous SGD (table)")
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    table = with_names(pd.read_csv(csv_paths[0]))
    table = table[table.defense == "none"]
    parts = []
    for _, group in table.groupby(SETUP_KEYS, sort=True, dropna=False):
        summary = seed_summary(group, METHOD_KEYS + ["method_name"])
        sync = summary.loc[summary.method == "sync", "mean"]
        reference = float(sync.iloc[0]) if len(sync) else float("nan")
        summary["vs sync (points)"] = 100 * (summary["mean"] - reference)
        first = group.iloc[0]
        shown = pd.DataFrame({
            "method": summary.method_name,
            # one seed is a value, not a spread: its sd is omitted and n says why
            ACCURACY: [f"{100 * m:.2f} ± {100 * s:.2f}" if n > 1 else f"{100 * m:.2f}"
                       for m, s, n in zip(summary["mean"], summary["std"], summary["count"])],
            SEEDS: summary["count"],
            "vs sync (points)": [f"{d:+.2f}" if d == d else "-" for d in summary["vs sync (points)"]],
            "MB sent / rank / epoch": [f"{b / 1e6:.2f}" if b == b else "n/a" for b in summary.bytes_sent_per_epoch],
            "steps/s": [f"{s:.1f}" for s in summary.mean_steps_per_s],
        })
        parts.append(f"## {first.setup}: {first.model} on {first.dataset}, {int(first.world_size)} ranks "
                     f"({first.backend}), batch {int(first.batch_size)}/rank, lr {first.lr:g}, momentum "
                     f"{first.momentum:g}, weight decay {first.weight_decay:g}, {int(first.epochs)} epochs\n\n"
                     + shown.to_markdown(index=False) + "\n")
    devices = ", ".join(sorted(table.device.unique()))
    text = ("# DTS: final test accuracy\n\nFinal = after the last step, every in-flight average applied; "
            f"accuracy of rank 0's model. Device(s): {devices}. Config: {options.get('config', 'unknown')}. "
            "Paper's claim: compensated delayed and temporally sparse updates keep the accuracy of synchronous "
            "SGD.\n\n" + seeds_line(table.groupby(SETUP_KEYS + METHOD_KEYS, dropna=False).size()) + "\n\n"
            + "\n".join(parts))
    write_text(output, text)
