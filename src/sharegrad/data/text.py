"""Sentences for DLG on text: the two on the slides, and real English that ships offline.

The corpus is the Zen of Python (the standard library's ``this`` module keeps
it ROT13-encoded), one aphorism per sentence, kept when its WordPiece length
lies in [min_tokens, max_tokens]. Nothing is downloaded.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from sharegrad.errors import UserError

# The slides' "Experiment on Bert": a question/answer pair and a paragraph.
SLIDE_SENTENCES = [
    ("slide_henson", "Who was Jim Henson?", "Jim Henson was a puppeteer"),
    ("slide_registration", "Registration, volunteer applications, and student travel application open the first "
                           "week of September. Child care will be available.", None),
]
CORPORA = ("zen_of_python",)


@dataclass(frozen=True)
class Sentence:
    id: str
    source: str
    text: str
    text_pair: str | None = None


def zen_of_python() -> list[str]:
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # importing `this` prints the text
        import this
    lines = codecs.decode(this.s, "rot13").splitlines()
    return [line.strip() for line in lines[2:] if line.strip()]  # skip the title and the blank line


def token_count(tokenizer, sentence: Sentence) -> int:
    """WordPiece tokens of the text, without [CLS] and [SEP]."""
    encoded = tokenizer(sentence.text, sentence.text_pair, add_special_tokens=False)
    return len(encoded["input_ids"])


def build_sentences(tokenizer, slides: bool = True, corpus: str | None = "zen_of_python",
                    min_tokens: int = 5, max_tokens: int = 30) -> list[Sentence]:
    sentences = [Sentence(id, "slides", text, pair) for id, text, pair in SLIDE_SENTENCES] if slides else []
    if corpus is not None:
        if corpus not in CORPORA:
            raise UserError(f"unknown text corpus {corpus!r}; choose one of {', '.join(CORPORA)}")
        for number, line in enumerate(zen_of_python()):
            candidate = Sentence(f"zen_{number:02d}", corpus, line)
            if min_tokens <= token_count(tokenizer, candidate) <= max_tokens:
                sentences.append(candidate)
    return sentences


def encode(tokenizer, sentence: Sentence, max_tokens: int):
    """input_ids and token_type_ids (1 x tokens, specials included); an over-long sentence is an error."""
    count = token_count(tokenizer, sentence)
    if count > max_tokens:
        raise UserError(f"sentence {sentence.id!r} has {count} tokens, more than max_tokens={max_tokens}; "
                        f"shorten it or raise text.max_tokens")
    if count == 0:
        raise UserError(f"sentence {sentence.id!r} is empty")
    encoded = tokenizer(sentence.text, sentence.text_pair, return_tensors="pt")
    return encoded["input_ids"], encoded["token_type_ids"]


def write_sentences(path: Path, sentences: list[Sentence]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps([asdict(s) for s in sentences], indent=1) + "\n")
    tmp.replace(path)
    return path


def read_sentences(path: Path) -> list[Sentence]:
    path = Path(path)
    if not path.exists():
        raise UserError(f"sentence file {path} not found; run `sharegrad text-corpus --out {path}`")
    try:
        return [Sentence(**item) for item in json.loads(path.read_text())]
    except (json.JSONDecodeError, TypeError) as exc:
        raise UserError(f"{path} is not a sentence file ({exc}); delete it and rerun its rule") from None
