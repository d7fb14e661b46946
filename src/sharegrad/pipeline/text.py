"""What the text rules (workflow/rules/text.smk) ask of the config: cells, chunks, paths, CLI arguments.

A cell is model x attack x defense x level; a job attacks a range of sentence
indices of the corpus file. The number of sentences is bounded by the config
(slides + ``corpus.limit``), so the DAG is known without the data; a range past
the end of the file is an empty job.
"""

from __future__ import annotations

import json
import shlex

from sharegrad import grid

TEXT_CELL_KEYS = ["model", "attack", "defense", "level"]
SLIDE_SENTENCES = 2


def sentence_bound(config: dict) -> int:
    corpus = config["text"]["corpus"]
    return (SLIDE_SENTENCES if corpus["slides"] else 0) + corpus["limit"]


def text_cells(config: dict) -> list[tuple[dict, int]]:
    """(cell, sentences attacked) for each distinct cell of ``text.grids``; the first grid naming a cell wins."""
    cells, seen = [], set()
    bound = sentence_bound(config)
    for spec in config["text"]["grids"]:
        count = min(bound, spec.get("max_sentences", bound))
        values = {k: spec.get(k, [{"defense": "none", "level": 0}.get(k)]) for k in TEXT_CELL_KEYS}
        for cell in grid.expand(values):
            key = grid.cell_path(cell)
            if key not in seen:
                seen.add(key)
                cells.append((cell, count))
    return cells


def text_chunk_dirs(config: dict) -> list[str]:
    root, size = f"results/{config['name']}", config["text"]["sentences_per_job"]
    return [f"{root}/text/{grid.cell_path(cell)}/chunk~{start}-{min(start + size, count)}"
            for cell, count in text_cells(config) for start in range(0, count, size)]


def corpus_args(config: dict) -> str:
    corpus = config["text"]["corpus"]
    args = ["--tokenizer", config["text"]["tokenizer"], "--corpus", corpus["name"],
            "--min-tokens", corpus["min_tokens"], "--max-tokens", config["text"]["max_tokens"],
            "--limit", corpus["limit"]] + ([] if corpus["slides"] else ["--no-slides"])
    return " ".join(shlex.quote(str(a)) for a in args)


def text_cli_args(config: dict, cell_path: str, chunk: str) -> str:
    text = config["text"]
    cell = grid.parse_cell_path(cell_path)
    start, stop = chunk.split("-")
    args = [
        "--model", cell["model"], "--hub-name", text["hub_name"], "--tokenizer", text["tokenizer"],
        "--attack", cell["attack"], "--attack-config", json.dumps(text["attack_settings"].get(cell["attack"], {}),
                                                                  sort_keys=True),
        "--budgets", ",".join(str(b) for b in text["budgets"]), "--defense", cell["defense"],
        "--defense-level", cell["level"], "--max-tokens", text["max_tokens"], "--seed", config["seed"],
        "--indices", f"{start}:{stop}", "--device", config["device"], "--threads", config.get("threads", 1),
    ]
    return " ".join(shlex.quote(str(a)) for a in args)
