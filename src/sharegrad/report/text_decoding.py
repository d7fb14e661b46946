"""The slides' decoding table: one row per snapshot iteration, the original text last.

Reads ``text_snapshots.csv``. Options: ``model``, ``attack``, ``defense``,
``level`` (filter), ``sentences`` (ids, default: every sentence whose id
starts with ``slide``), ``every`` (show steps that are multiples of it, plus
the first and the last; default 10), ``source_claim`` (the claim whose
``paper.snapshots`` give the source's own text per sentence and iteration, shown
in a third column; default ``text_bert_30``, the slides; null: none).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sharegrad.claims import claim
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


def source_snapshots(claim_id: str | None) -> dict[str, dict[str, str]]:
    """sentence id -> {iteration or label: text} as the source prints it (the claims file)."""
    return claim(claim_id)["paper"].get("snapshots", {}) if claim_id else {}


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
    claim_id = options.get("source_claim", "text_bert_30")
    reference = source_snapshots(claim_id)
    parts = ["# DLG on BERT: decoded text over the L-BFGS iterations\n"]
    for sentence_id in wanted:
        rows = table[table.sentence_id == sentence_id]
        if rows.empty:
            raise UserError(f"sentence {sentence_id!r} has no snapshots in {csv_paths[0]}")
        for (model, attack, defense, level), run in rows.groupby(["model", "attack", "defense", "level"]):
            by_step = run.set_index("step").tokens
            steps = shown_steps(list(by_step.index), every)
            original = words(run.true_text.iloc[0])
            theirs = reference.get(str(sentence_id))
            if not theirs:
                lines = [f"| Iters={s} | {words(by_step[s])} |" for s in steps]
                parts.append(f"## {sentence_id}: {model}, {attack}, defense {defense} {level}\n\n"
                             f"| iteration | decoded tokens |\n|---|---|\n" + "\n".join(lines)
                             + f"\n| Original text | {original} |\n")
                continue
            lines = [f"| Iters={s} | {words(by_step[s])} | {words(theirs.get(str(s), ''))} |" for s in steps]
            lines += [f"| source: {key} |  | {words(text)} |" for key, text in theirs.items()
                      if not (key.isdigit() and int(key) in steps)]
            parts.append(f"## {sentence_id}: {model}, {attack}, defense {defense} {level}\n\n"
                         f"| iteration | decoded tokens | the source's text (claim {claim_id}) |\n|---|---|---|\n"
                         + "\n".join(lines) + f"\n| Original text | {original} | |\n")
    write_text(output, "\n".join(parts))
