"""DLG on text (Zhu, Liu, Han 2019, "Experiment on Bert"): recover a sentence from BERT's masked-LM gradients.

Victim: ``BertForMaskedLM`` in eval mode; its loss is the masked-LM
cross-entropy of every content token (all positions but [CLS] and [SEP])
predicting itself, averaged; it shares the gradients of all its parameters.

Attacker (``text_dlg``, the published attack): dummy input embeddings (they
replace the word embeddings; BERT adds positions and segments) and dummy soft
labels softmax(y'), one per content position, both optimised by L-BFGS to
match the shared gradients. At snapshot steps each position is decoded to the
nearest row of the vocabulary embedding matrix, as the paper does.

``text_dlg_tokenset`` is a named variant, not the published attack: the
masked-LM decoder's bias gradient is (1/n) sum_i (p_i - y_i), negative exactly
at the tokens the sentence contains (while the model is not confident), so
the token set is read off it first; the dummy labels then range over that set
and decoding picks the nearest embedding within it.

The ``observer`` receives the decoded token ids (batch x tokens) after every
outer step: that is what the attacker would read out at that point.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from sharegrad.attacks.base import AttackResult, Target, register_attack, soft_cross_entropy, squared_gradient_distance
from sharegrad.attacks.dlg import LINE_SEARCHES, published_lbfgs
from sharegrad.checkpoint import restore
from sharegrad.errors import UserError
from sharegrad.seeding import generator

DEFAULTS = {
    "iterations": 100,
    "lr": 1.0,
    "history_size": 100,
    "max_iter": 20,
    "line_search": "strong_wolfe",  # none (the DLG repository) | strong_wolfe
    "init_std": "embeddings",  # std of the dummy embeddings: the vocabulary's own, or a number (DLG: 1.0)
    "decode": "cosine",  # nearest vocabulary embedding by l2 distance or cosine similarity
    "snapshot_every": 10,
    "stop_loss": 0.0,  # stop once the gradient-match loss is below this (0: run the whole budget)
    # The shared word-embedding gradient holds the lookup's scatter into the rows of the true tokens, which
    # an attacker optimising embeddings (not token ids) cannot produce; leave that tensor out of the match.
    "match_word_embeddings": False,
    # text_dlg_tokenset only: [cls_id, sep_id] (bert-base-uncased: [101, 102]) placed at the ends
    # as the victim's tokenizer does; null leaves those two slots free embeddings.
    "special_ids": None,
}


def resolve(config: dict) -> dict:
    unknown = set(config) - set(DEFAULTS)
    if unknown:
        raise UserError(f"unknown text DLG setting(s) {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    settings = {**DEFAULTS, **config}
    if settings["line_search"] not in LINE_SEARCHES:
        raise UserError(f"line_search must be one of {sorted(LINE_SEARCHES)}, not {settings['line_search']!r}")
    specials = settings["special_ids"]
    if specials is not None and (not isinstance(specials, list) or len(specials) != 2):
        raise UserError(f"special_ids must be [cls_id, sep_id] or null, not {specials!r}")
    if settings["decode"] not in ("l2", "cosine"):
        raise UserError(f"decode must be l2 or cosine, not {settings['decode']!r}")
    if settings["init_std"] != "embeddings" and not (isinstance(settings["init_std"], (int, float))
                                                     and settings["init_std"] > 0):
        raise UserError(f"init_std must be 'embeddings' or a positive number, not {settings['init_std']!r}")
    if int(settings["iterations"]) < 0 or int(settings["snapshot_every"]) < 1:
        raise UserError("iterations must be >= 0 and snapshot_every >= 1")
    return settings


def content_mask(tokens: int, batch: int = 1, device=None) -> torch.Tensor:
    """Positions that carry a masked-LM label: all but [CLS] (first) and [SEP] (last)."""
    mask = torch.ones((batch, tokens), dtype=torch.bool, device=device)
    mask[:, 0] = False
    mask[:, -1] = False
    return mask


def mlm_loss(model, inputs_embeds: torch.Tensor, token_type_ids: torch.Tensor,
             soft_labels: torch.Tensor) -> torch.Tensor:
    """Mean soft cross-entropy over content positions; soft_labels is (content positions, vocab)."""
    logits = model(inputs_embeds=inputs_embeds, token_type_ids=token_type_ids).logits
    mask = content_mask(logits.shape[1], logits.shape[0], logits.device)
    return soft_cross_entropy(logits[mask], soft_labels)


def trainable(model) -> list[torch.Tensor]:
    return [p for p in model.parameters() if p.requires_grad]


def word_embeddings(model) -> torch.Tensor:
    return model.get_input_embeddings().weight


def victim_text_gradients(model, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> list[torch.Tensor]:
    """The gradients a participant shares after one masked-LM step on its sentence(s)."""
    embeds = F.embedding(input_ids, word_embeddings(model))  # keeps the word-embedding gradient
    labels = input_ids[content_mask(input_ids.shape[1], input_ids.shape[0], input_ids.device)]
    onehot = F.one_hot(labels, model.config.vocab_size).to(embeds.dtype)
    loss = mlm_loss(model, embeds, token_type_ids, onehot)
    return [g.detach() for g in torch.autograd.grad(loss, trainable(model))]


def nearest_tokens(embeddings: torch.Tensor, vocabulary: torch.Tensor, metric: str = "l2",
                   candidates: torch.Tensor | None = None) -> torch.Tensor:
    """Token id of the nearest vocabulary row for each position (... x hidden -> ...)."""
    table = vocabulary if candidates is None else vocabulary[candidates]
    flat = embeddings.reshape(-1, embeddings.shape[-1]).to(table.dtype)
    if metric == "cosine":
        index = (F.normalize(flat, dim=-1) @ F.normalize(table, dim=-1).T).argmax(dim=-1)
    else:
        index = torch.cdist(flat, table).argmin(dim=-1)
    ids = index if candidates is None else candidates[index]
    return ids.reshape(embeddings.shape[:-1])


def decoder_bias_gradient(model, shared: list[torch.Tensor]) -> torch.Tensor:
    bias = model.get_output_embeddings().bias
    for param, grad in zip(trainable(model), shared):
        if param is bias:
            return grad
    raise UserError("the model has no masked-LM decoder bias among its parameters; the token-set variant needs it")


def token_set_from_gradients(model, shared: list[torch.Tensor]) -> torch.Tensor:
    """Token ids whose decoder-bias gradient is negative: the labels present in the batch."""
    return torch.nonzero(decoder_bias_gradient(model, shared) < 0).flatten()


gradient_distance = squared_gradient_distance  # the published loss; see attacks/base.py


def _attack(model, target: Target, config: dict, seed: int, observer, use_token_set: bool,
            checkpoint=None) -> AttackResult:
    settings = resolve(config)
    if len(target.input_shape) != 2:
        raise UserError(f"text attacks take input_shape (batch, tokens), got {target.input_shape}")
    batch, tokens = target.input_shape
    if tokens < 3:
        raise UserError(f"a sentence needs [CLS], at least one token and [SEP]; got {tokens} positions")
    shared = [g.detach() for g in target.shared_gradients]
    device = shared[0].device
    vocabulary = word_embeddings(model).detach()
    token_type_ids = (target.token_type_ids if target.token_type_ids is not None
                      else torch.zeros(target.input_shape, dtype=torch.long)).to(device)
    hidden = vocabulary.shape[1]
    content = int(content_mask(tokens, batch).sum())

    g = generator(seed, "attack:text_dlg:init", device)
    std = float(vocabulary.std()) if settings["init_std"] == "embeddings" else float(settings["init_std"])
    free = (std * torch.randn((batch, tokens, hidden), generator=g, device=device)).requires_grad_(True)
    mask = content_mask(tokens, batch, device)
    candidates = None
    if use_token_set:
        candidates = token_set_from_gradients(model, shared)
        if len(candidates) == 0:
            raise UserError("no token has a negative decoder-bias gradient; the token set cannot be read")
        # Content slots are mixtures over the set's embeddings; the [CLS]/[SEP] slots hold those tokens'
        # embeddings when their ids are given, else they stay free.
        choice = torch.randn((content, len(candidates)), generator=g, device=device).requires_grad_(True)
        specials = settings["special_ids"]
        if specials is not None:
            free = free.detach()
            free[:, 0], free[:, -1] = vocabulary[specials[0]], vocabulary[specials[1]]
        variables = [choice] if specials is not None else [free, choice]

        def inputs() -> torch.Tensor:
            mixed = F.softmax(choice, dim=-1) @ vocabulary[candidates]
            return free.masked_scatter(mask.unsqueeze(-1).expand_as(free), mixed)

        def soft_labels() -> torch.Tensor:  # the victim's labels are its own tokens
            full = torch.zeros((content, target.num_classes), device=device, dtype=choice.dtype)
            return full.index_copy(1, candidates, F.softmax(choice, dim=-1))
    else:
        dummy_label = torch.randn((content, target.num_classes), generator=g, device=device).requires_grad_(True)
        variables = [free, dummy_label]

        def inputs() -> torch.Tensor:
            return free

        def soft_labels() -> torch.Tensor:
            return F.softmax(dummy_label, dim=-1)


    def decode() -> torch.Tensor:
        current = inputs().detach()
        ids = nearest_tokens(current, vocabulary, settings["decode"])
        if candidates is not None:  # [CLS]/[SEP] slots carry no label, so they stay on the full vocabulary
            ids[mask] = nearest_tokens(current[mask], vocabulary, settings["decode"], candidates)
        return ids

    params = trainable(model)
    if not (settings["match_word_embeddings"] or use_token_set):
        keep = [i for i, p in enumerate(params) if p is not word_embeddings(model)]
        params, shared = [params[i] for i in keep], [shared[i] for i in keep]
    optimizer = published_lbfgs(variables, settings)
    evaluations = 0

    def closure():
        nonlocal evaluations
        evaluations += 1
        optimizer.zero_grad()
        loss = mlm_loss(model, inputs(), token_type_ids, soft_labels())
        dummy_gradients = torch.autograd.grad(loss, params, create_graph=True)
        distance = gradient_distance(dummy_gradients, shared)
        distance.backward(inputs=variables)  # not into the model's parameters, which nothing reads
        return distance

    loss_curve: list[float] = []
    snapshots = {0: inputs().detach().clone()}
    decoded = {0: decode()}
    status, diverged_at, steps = "finished", None, 0
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        restore(saved, variables, optimizer)
        loss_curve, snapshots, decoded = saved["loss_curve"], saved["snapshots"], saved["decoded"]
        steps, evaluations = saved["steps"], saved["evaluations"]
    elif observer:
        observer(0, decoded[0])

    def state() -> dict:
        return {"variables": [v.detach().clone() for v in variables], "optimizer": optimizer.state_dict(),
                "loss_curve": loss_curve, "snapshots": snapshots, "decoded": decoded, "steps": steps,
                "evaluations": evaluations}

    iterations = int(settings["iterations"])
    for step in range(steps + 1, iterations + 1):
        loss = float(optimizer.step(closure).detach())
        loss_curve.append(loss)
        steps = step
        if not math.isfinite(loss) or not torch.isfinite(inputs()).all():
            status, diverged_at = "diverged", step
            break
        current = decode()
        if observer:
            observer(step, current)
        last = step == iterations
        converged = settings["stop_loss"] > 0 and loss < settings["stop_loss"]
        if step % settings["snapshot_every"] == 0 or last or converged:
            snapshots[step], decoded[step] = inputs().detach().clone(), current
        if converged:
            break
        if checkpoint is not None and step < iterations:
            checkpoint.maybe_save(step, state)

    if status == "finished":
        with torch.enable_grad():
            loss = mlm_loss(model, inputs(), token_type_ids, soft_labels())
            final = gradient_distance(torch.autograd.grad(loss, params), shared)
        loss_curve.append(float(final))
        evaluations += 1
    labels = soft_labels().detach().argmax(dim=-1)
    return AttackResult(reconstruction=inputs().detach(), labels=labels, loss_curve=loss_curve, snapshots=snapshots,
                        status=status, diverged_at=diverged_at, evaluations=evaluations, steps=steps,
                        decoded=decoded)


@register_attack("text_dlg", modality="text")
def text_dlg(model, target: Target, config: dict, *, seed: int, observer=None, checkpoint=None) -> AttackResult:
    return _attack(model, target, config, seed, observer, use_token_set=False, checkpoint=checkpoint)


@register_attack("text_dlg_tokenset", modality="text")
def text_dlg_tokenset(model, target: Target, config: dict, *, seed: int, observer=None,
                      checkpoint=None) -> AttackResult:
    return _attack(model, target, config, seed, observer, use_token_set=True, checkpoint=checkpoint)
