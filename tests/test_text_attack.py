"""DLG on text: decoding, token-set recovery, and the attack on a tiny BERT (CPU, seconds to a minute)."""

import pytest
import torch

from sharegrad.attacks import Target, run_attack
from sharegrad.attacks.text_dlg import nearest_tokens, token_set_from_gradients, victim_text_gradients, word_embeddings
from sharegrad.data.text import Sentence, encode
from sharegrad.models import build_model
from sharegrad.models.bert import load_tokenizer

SIX_TOKENS = Sentence("six", "test", "Beautiful is better than ugly.")  # beautiful is better than ugly .


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("offline")


@pytest.fixture(scope="module")
def tiny():
    return build_model("bert_tiny_random", num_classes=30522, seed=0)


@pytest.fixture(scope="module")
def minilm():
    return build_model("minilm_l6_offline", num_classes=30522, seed=0)


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_nearest_embedding_decoding_of_true_embeddings_returns_true_tokens(minilm, tokenizer, metric):
    ids, _ = encode(tokenizer, Sentence("s", "test", "Who was Jim Henson?", "Jim Henson was a puppeteer"), 30)
    embeddings = word_embeddings(minilm).detach()[ids]
    assert torch.equal(nearest_tokens(embeddings, word_embeddings(minilm).detach(), metric), ids)


def test_minilm_encoder_is_the_shipped_one_and_head_is_seeded(minilm):
    from transformers import BertModel

    from sharegrad.models.bert import offline_folder

    shipped = BertModel.from_pretrained(str(offline_folder()), local_files_only=True)
    assert torch.equal(shipped.encoder.layer[5].output.dense.weight, minilm.bert.encoder.layer[5].output.dense.weight)
    again = build_model("minilm_l6_offline", num_classes=30522, seed=0)
    other = build_model("minilm_l6_offline", num_classes=30522, seed=1)
    head = "cls.predictions.transform.dense.weight"
    assert torch.equal(dict(again.named_parameters())[head], dict(minilm.named_parameters())[head])
    assert not torch.equal(dict(other.named_parameters())[head], dict(minilm.named_parameters())[head])


def test_token_set_read_from_decoder_bias_gradient(tiny, tokenizer):
    ids, types = encode(tokenizer, SIX_TOKENS, 30)
    shared = victim_text_gradients(tiny, ids, types)
    assert sorted(token_set_from_gradients(tiny, shared).tolist()) == sorted(set(ids[0, 1:-1].tolist()))


def test_tokenset_attack_recovers_six_token_sentence_exactly_on_tiny_bert(tiny, tokenizer):
    ids, types = encode(tokenizer, SIX_TOKENS, 30)
    assert ids.shape[1] == 8  # [CLS] + 6 tokens + [SEP]
    shared = victim_text_gradients(tiny, ids, types)
    seen = []
    result = run_attack("text_dlg_tokenset", tiny, Target(shared, tuple(ids.shape), 30522, token_type_ids=types),
                        {"iterations": 8, "max_iter": 20, "snapshot_every": 4}, seed=0,
                        observer=lambda step, decoded: seen.append(step))
    final = result.decoded[max(result.decoded)]
    assert final[0, 1:-1].tolist() == ids[0, 1:-1].tolist()
    assert result.status == "finished" and seen == list(range(0, 9))
    assert sorted(result.decoded) == [0, 4, 8]


def test_published_attack_runs_and_is_deterministic(tiny, tokenizer):
    ids, types = encode(tokenizer, SIX_TOKENS, 30)
    target = Target(victim_text_gradients(tiny, ids, types), tuple(ids.shape), 30522, token_type_ids=types)
    config = {"iterations": 1, "max_iter": 2}
    first = run_attack("text_dlg", tiny, target, config, seed=3)
    second = run_attack("text_dlg", tiny, target, config, seed=3)
    assert first.reconstruction.shape == (1, 8, 128)
    assert torch.equal(first.reconstruction, second.reconstruction)
    assert first.loss_curve == second.loss_curve and first.loss_curve[-1] < first.loss_curve[0]
