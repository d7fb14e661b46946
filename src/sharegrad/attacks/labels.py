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
