"""The text stage's scoring at its edges (sharegrad.stages.dlg_text.TextObserver): which token
positions a decoded sentence is scored on. A perfectly decoded sentence is scored on its own
tokens only, every one of them, whatever sits in the [CLS] and [SEP] slots (every attack output has
those slots; counting them would lift a sentence with nothing recovered above zero)."""

from __future__ import annotations

import pytest
import torch

from sharegrad.data.text import Sentence, encode
from sharegrad.models.bert import load_tokenizer
from sharegrad.stages.dlg_text import TextObserver

SENTENCE = Sentence("henson", "test", "Jim Henson was a puppeteer")


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("offline")


def own_tokens(tokenizer, sentence: Sentence) -> list[int]:
    """The sentence's tokens from the tokenizer itself, not from the stage's slicing."""
    return tokenizer.convert_tokens_to_ids(tokenizer.tokenize(sentence.text))


def scored(tokenizer, decoded: torch.Tensor) -> dict:
    observer = TextObserver(tokenizer, own_tokens(tokenizer, SENTENCE))
    observer(3, decoded)
    return {**observer.by_step[3][1], "first_exact": observer.first_exact}


def test_a_perfect_decoding_is_scored_on_every_token_of_the_sentence_and_on_no_special_slot(tokenizer):
    ids, _ = encode(tokenizer, SENTENCE, 30)
    words = own_tokens(tokenizer, SENTENCE)
    assert ids.shape[1] == len(words) + 2  # [CLS] words [SEP]
    metrics = scored(tokenizer, ids)
    assert len(metrics["correct_by_position"]) == len(words)
    assert metrics["token_accuracy"] == 1.0 and metrics["exact_match"] and metrics["first_exact"] == 3
    assert metrics["rougeL_f"] == 1.0


def test_the_special_slots_are_not_scored_and_each_sentence_token_is(tokenizer):
    ids, _ = encode(tokenizer, SENTENCE, 30)
    n = len(own_tokens(tokenizer, SENTENCE))
    wrong_specials = ids.clone()
    wrong_specials[0, 0], wrong_specials[0, -1] = 1000, 1001  # [unused] tokens where [CLS] and [SEP] sit
    assert scored(tokenizer, wrong_specials)["exact_match"]
    one_wrong = ids.clone()
    one_wrong[0, 1] = 1000  # the first word
    metrics = scored(tokenizer, one_wrong)
    assert metrics["token_accuracy"] == pytest.approx((n - 1) / n)
    assert metrics["correct_by_position"] == [False] + [True] * (n - 1)
    assert not metrics["exact_match"] and metrics["first_exact"] is None
