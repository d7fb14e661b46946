"""Labels read off the last layer's gradient, before any optimisation.

iDLG (Zhao et al. 2020): with softmax cross-entropy and one sample, the last
linear layer's gradient row for class i is (p_i - y_i) * h with h the
features; only the true class has p_i - y_i < 0, so its bias gradient (or the
sum of its weight row, when features are non-negative) is the only negative one.
"""

from __future__ import annotations

import torch

from sharegrad.errors import UserError


def last_layer_gradients(model: torch.nn.Module, shared_gradients: list[torch.Tensor], num_classes: int):
    """(weight gradient, bias gradient or None) of the last linear layer that outputs the classes."""
    params = [p for p in model.parameters() if p.requires_grad]
    for index in range(len(params) - 1, -1, -1):
        param = params[index]
        if param.dim() == 2 and param.shape[0] == num_classes:
            bias = None
            if index + 1 < len(params) and params[index + 1].shape == (num_classes,):
                bias = shared_gradients[index + 1]
            return shared_gradients[index], bias
    raise UserError("no linear layer with one output per class found; label recovery needs one")


def idlg_label(model: torch.nn.Module, shared_gradients: list[torch.Tensor], num_classes: int) -> torch.Tensor:
    weight, bias = last_layer_gradients(model, shared_gradients, num_classes)
    score = bias if bias is not None else weight.sum(dim=1)
    return torch.argmin(score).reshape(1)


def multiset_labels(model: torch.nn.Module, shared_gradients: list[torch.Tensor], num_classes: int,
                    input_shape: tuple[int, ...], probes: int = 256) -> torch.Tensor:
    """The label multiset of a batch, from the last layer's bias gradient.

    With mean cross-entropy over B samples the bias gradient is
    g_i = (S_i - n_i) / B, where n_i is how often class i occurs and
    S_i = sum_b p_bi the batch's summed predicted probability. The attacker holds
    the model, so it estimates S_i as B times the mean prediction over random
    images in [0, 1] (seeded), then n_i ~ S_i - B g_i, rounded, fixed up to sum to
    B greedily by the rounding residual. Returned sorted: the order carries no
    information. (Plain "negative entries are present" fails when the untrained
    model is confident about a class that is in the batch.)
    """
    _, bias = last_layer_gradients(model, shared_gradients, num_classes)
    if bias is None:
        raise UserError("multiset label recovery needs the last layer's bias gradient; this model has no bias there")
    batch = input_shape[0]
    device = bias.device
    g = torch.Generator(device=device).manual_seed(0)
    with torch.no_grad():
        probe = torch.rand((probes, *input_shape[1:]), generator=g, device=device)
        mean_prediction = torch.softmax(model(probe), dim=-1).mean(dim=0)
    estimate = (batch * mean_prediction - batch * bias.detach()).double().cpu()
    counts = estimate.round().clamp(min=0.0)
    while counts.sum() != batch:
        residual = estimate - counts
        if counts.sum() < batch:
            counts[torch.argmax(residual)] += 1
        else:
            counts[torch.argmin(torch.where(counts > 0, residual, torch.full_like(residual, 1e9)))] -= 1
    return torch.repeat_interleave(torch.arange(num_classes), counts.long()).to(device)
