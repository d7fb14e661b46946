"""Text metrics on token ids: the decoded sentence against the true one, position by position.

Scored over the sentence's own tokens (without [CLS] and [SEP], which every
attack output has the slots of). ROUGE comes from Google's ``rouge-score``,
run on the WordPiece tokens themselves so that it scores what was recovered.
"""

from __future__ import annotations

from collections import Counter

from rouge_score import rouge_scorer


class _Pieces:
    """rouge-score tokenizer that keeps WordPiece tokens as they are (space-joined)."""

    def tokenize(self, text: str) -> list[str]:
        return text.split()


_SCORER = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=_Pieces())


def token_accuracy_by_position(recovered: list[int], truth: list[int]) -> list[bool]:
    if len(recovered) != len(truth):
        raise ValueError(f"recovered has {len(recovered)} tokens, truth {len(truth)}")
    return [r == t for r, t in zip(recovered, truth)]


def token_set_recall(recovered: list[int], truth: list[int]) -> float:
    """Fraction of the true tokens (as a multiset) found anywhere in the recovery."""
    found = Counter(recovered) & Counter(truth)
    return sum(found.values()) / len(truth)


def rouge(recovered_pieces: list[str], true_pieces: list[str]) -> dict[str, float]:
    scores = _SCORER.score(" ".join(true_pieces), " ".join(recovered_pieces))
    return {f"{name}_f": score.fmeasure for name, score in scores.items()}


def score(recovered: list[int], truth: list[int], recovered_pieces: list[str], true_pieces: list[str]) -> dict:
    by_position = token_accuracy_by_position(recovered, truth)
    return {
        "token_accuracy": sum(by_position) / len(by_position),
        "correct_by_position": by_position,
        "token_set_recall": token_set_recall(recovered, truth),
        "exact_match": all(by_position),
        **rouge(recovered_pieces, true_pieces),
    }
