"""The slides' decoding table: one row per snapshot iteration, the original text last.

Reads ``text_snapshots.csv``. Options: ``model``, ``attack``, ``defense``,
``level`` (filter), ``sentences`` (ids, default: every sentence whose id
starts with ``slide``), ``every`` (show steps that are multiples of it, plus
the first and the last; default 10).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sharegrad.errors import UserError
from sharegrad.report import register_figure
from sharegrad.report.style import write_text

FILTER_KEYS = ("model", "attack", "defense", "level")


def select(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    for key in FILTER_KEYS:
        if key in options:
            table = table[table[key].astype(str) == str(options[key])]
    if table.empty:
        raise UserError(f"no snapshots match {({k: options[k] for k in FILTER_KEYS if k in options})}")
    return table


def words(tokens: str) -> str:
    """WordPiece tokens joined into words, as the slides print them."""
    return tokens.replace(" ##", "")


def shown_steps(steps: list[int], every: int) -> list[int]:
    last = max(steps)
    return [s for s in sorted(steps) if s % every == 0 or s == last]


@register_figure("text_decoding", section="text", inputs=["text_snapshots.csv"], table=True, subcategory="Text",
                 title="A sentence decoded over the iterations (table)",
                 options=lambda config: config["text"]["figures"]["decoding"])
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    table = select(pd.read_csv(csv_paths[0]), options)
    wanted = options.get("sentences") or sorted(i for i in table.sentence_id.unique() if str(i).startswith("slide"))
    if not wanted:
        raise UserError("no slide sentences among the snapshots; pass options.sentences")
    every = int(options.get("every", 10))
    parts = ["# DLG on BERT: decoded text over the L-BFGS iterations\n"]
    for sentence_id in wanted:
        rows = table[table.sentence_id == sentence_id]
        if rows.empty:
            raise UserError(f"sentence {sentence_id!r} has no snapshots in {csv_paths[0]}")
        for (model, attack, defense, level), run in rows.groupby(["model", "attack", "defense", "level"]):
            by_step = run.set_index("step").tokens
            lines = [f"| Iters={s} | {words(by_step[s])} |" for s in shown_steps(list(by_step.index), every)]
            parts.append(f"## {sentence_id}: {model}, {attack}, defense {defense} {level}\n\n| iteration | decoded tokens |\n"
                         f"|---|---|\n" + "\n".join(lines) + f"\n| Original text | {words(run.true_text.iloc[0])} |\n")
    write_text(output, "\n".join(parts))
