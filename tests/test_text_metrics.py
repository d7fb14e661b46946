"""Text metrics against values worked out by hand from their definitions."""

import pytest

from sharegrad.metrics.text import rouge, score, token_set_recall


def test_permuted_sentence_has_full_set_recall_and_partial_position_accuracy():
    truth, recovered = [1, 2, 3, 4], [1, 3, 2, 4]
    result = score(recovered, truth, ["a", "c", "b", "d"], ["a", "b", "c", "d"])
    assert result["correct_by_position"] == [True, False, False, True]
    assert result["token_accuracy"] == 0.5
    assert result["token_set_recall"] == 1.0
    assert not result["exact_match"]
    assert result["rouge1_f"] == 1.0
    # bigrams of truth: ab bc cd; of recovery: ac cb bd; none shared
    assert result["rouge2_f"] == 0.0
    # longest common subsequence a c d (or a b d): 3 of 4
    assert result["rougeL_f"] == pytest.approx(0.75)


def test_set_recall_counts_repeats_as_a_multiset():
    assert token_set_recall([5, 5, 6], [5, 6, 6]) == pytest.approx(2 / 3)


def test_rouge_keeps_wordpieces():
    assert rouge(["puppet", "##eer"], ["puppet", "##eer"])["rouge2_f"] == 1.0
    assert rouge(["puppet", "eer"], ["puppet", "##eer"])["rouge1_f"] == pytest.approx(0.5)


def test_exact_match():
    assert score([7, 8], [7, 8], ["x", "y"], ["x", "y"])["exact_match"]
