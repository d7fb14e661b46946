"""Per-sentence results of DLG on text: the weights attacked, token accuracy, ROUGE, exact match.

Reads ``text.csv`` (or several, as one table); one table per model x attack x defense x level x budget, one
row per sentence, then the cell's means. Option ``config`` names the config.

Several CSVs may hold the same sentence of the same cell: a 300-step run read at budget 100 next to its own
100-step run. With one seed and the same settings the attack is deterministic on CPU, so the two must decode
the same tokens; that row is counted once. Where they differ (a bug, or runs whose attack settings differ,
which the table's columns would not show) it refuses, naming both records, rather than pick one.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sharegrad.errors import UserError
from sharegrad.report import register_figure
from sharegrad.report.sample import sample_line
from sharegrad.report.stats import rate_with_interval
from sharegrad.report.style import write_text

CELL = ["model", "attack", "defense", "level", "budget"]
SENTENCE = CELL + ["source", "sentence_id", "seed"]


def read_tables(csv_paths: list[Path]) -> pd.DataFrame:
    """The CSVs as one table, a sentence read at the same budget by several runs once (they must agree)."""
    table = pd.concat([pd.read_csv(p).assign(read_from=str(p)) for p in csv_paths], ignore_index=True)
    for key, rows in table.groupby(SENTENCE, sort=True):
        if rows.recovered_tokens.nunique(dropna=False) > 1:
            where = "; ".join(f"{r.read_from} (record {r.record})" for r in rows.itertuples())
            raise UserError(f"text_summary: {dict(zip(SENTENCE, key))} decodes differently in {where}; "
                            "the same seed and attack settings should give the same tokens (runs with other "
                            "settings belong in separate tables)")
    return table.drop_duplicates(SENTENCE, keep="first").drop(columns="read_from").reset_index(drop=True)


@register_figure("text_summary", section="text", inputs=["text.csv"], table=True, subcategory="Text",
                 title="Token accuracy, ROUGE-L and exact matches per cell (table)")
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    table = read_tables(csv_paths)
    parts = [f"# DLG on BERT: per-sentence results (config {options.get('config', 'unknown')})\n",
             f"Device(s): {', '.join(sorted(table.device.unique()))}. Token accuracy and ROUGE over the "
             "sentence's WordPiece tokens ([CLS]/[SEP] excluded), read at each budget; evaluations and "
             "wall_time_s are the whole run's, which may have gone past the budget.\n"]
    counted = []
    for key, cell in table.groupby(CELL, sort=True):
        info = dict(zip(CELL, key))
        label = f"{info['model']}, {info['attack']}, defense {info['defense']} {info['level']}, budget {info['budget']}"
        counted.append((label + " exact matches", int(cell.exact_match.astype(bool).sum()), len(cell), len(cell), None))
    parts.append(sample_line(counted, unit="sentences", run="sentence") + "\n")
    for key, cell in table.groupby(CELL, sort=True):
        info = dict(zip(CELL, key))
        cell = cell.sort_values(["source", "n_tokens", "sentence_id"])
        shown = cell[["sentence_id", "n_tokens", "token_accuracy", "token_set_recall", "rouge1_f", "rouge2_f",
                      "rougeL_f", "exact_match", "first_exact_step", "evaluations", "wall_time_s",
                      "recovered_text"]].copy()
        for column in ("token_accuracy", "token_set_recall", "rouge1_f", "rouge2_f", "rougeL_f"):
            shown[column] = shown[column].map(lambda v: f"{v:.2f}")
        shown["wall_time_s"] = shown["wall_time_s"].map(lambda v: f"{v:.0f}")
        exact = int(cell.exact_match.astype(bool).sum())
        parts.append(
            f"## {info['model']}, {info['attack']}, defense {info['defense']} {info['level']}, "
            f"budget {info['budget']} iterations\n\nWeights: {cell.weights.iloc[0]} "
            f"({int(cell.model_parameters.iloc[0]):,} parameters). Mean token accuracy "
            f"{cell.token_accuracy.mean():.2f}, mean ROUGE-L {cell.rougeL_f.mean():.2f}, exact match "
            f"{rate_with_interval(exact, len(cell))}.\n\n" + shown.to_markdown(index=False) + "\n")
    write_text(output, "\n".join(parts))
