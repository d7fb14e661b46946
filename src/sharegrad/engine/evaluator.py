"""K gradient-match losses and their gradients in one vectorised pass.

DLG's objective for attack k is ||grad_W loss(F(x_k; W_k), y_k) - g_k||^2,
with its own victim weights W_k (every attack seeds its own model), dummy
input x_k, dummy label y_k and shared gradients g_k. ``torch.func`` writes it
once for one attack (functional_call on a weightless copy of the model, grad
inside grad) and vmaps it over the stacked W, x, y, g.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, grad_and_value, replace_all_batch_norm_modules_, stack_module_state, vmap

from sharegrad.attacks.base import soft_cross_entropy


class GradientMatch:
    """The objective of K attacks on models of one architecture.

    ``joint``: the label is optimised too (DLG's softmax(y')); otherwise ``onehot``
    holds each attack's fixed labels [K, batch, classes] and only the input moves.
    Variables are flat per attack: [input, label] (joint) or [input], like the
    parameter order the sequential attack hands torch.optim.LBFGS.
    """

    def __init__(self, models: list[torch.nn.Module], shared: list[list[torch.Tensor]], input_shape: tuple[int, ...],
                 num_classes: int, joint: bool, onehot: torch.Tensor | None = None):
        self.input_shape = tuple(input_shape)
        self.label_shape = (input_shape[0], num_classes)
        self.joint = joint
        self.sizes = [int(torch.Size(self.input_shape).numel())] + ([input_shape[0] * num_classes] if joint else [])
        self.numel = sum(self.sizes)
        template = copy.deepcopy(models[0])
        # batch-1 BatchNorm in train mode normalises with the batch statistics; the running
        # statistics it would also update are never read during an attack, and vmap cannot
        # write them, so they are switched off (train-mode outputs are unchanged).
        replace_all_batch_norm_modules_(template)
        self.template = template.to("meta")
        params, buffers = stack_module_state(models)
        self.names = [n for n, p in models[0].named_parameters() if p.requires_grad]
        self.params = {n: params[n].detach() for n in self.names}
        self.frozen = {n: params[n].detach() for n in params if n not in self.names}
        self.buffers = {n: b for n, b in buffers.items()}
        self.shared = {n: torch.stack([s[i] for s in shared]).detach() for i, n in enumerate(self.names)}
        self.onehot = onehot
        self._subset_cache: tuple | None = None

        def task_loss(params, rest, x, soft):
            return soft_cross_entropy(functional_call(self.template, ({**params, **rest},), (x,)), soft)

        def distance(x, soft, params, rest, shared):
            dummy_gradients = grad(task_loss)(params, rest, x, soft)
            # the sequential attack's sum((d - s)^2); (mse_loss's backward is a slow decomposition under vmap)
            return sum(((dummy_gradients[n] - shared[n]) ** 2).sum() for n in self.names)

        def joint_objective(x, y, params, rest, shared):
            return distance(x, F.softmax(y, dim=-1), params, rest, shared)

        def fixed_objective(x, soft, params, rest, shared):
            return distance(x, soft, params, rest, shared)

        if joint:
            self._value_and_grad = vmap(grad_and_value(joint_objective, argnums=(0, 1)))
            self._value = vmap(joint_objective)
        else:
            self._value_and_grad = vmap(grad_and_value(fixed_objective, argnums=0))
            self._value = vmap(fixed_objective)

    def _subset(self, attacks: list[int]):
        """Per-attack tensors of ``attacks``; the full stacks when every attack is asked."""
        if attacks == list(range(len(next(iter(self.shared.values()))))):
            return self.params, {**self.frozen, **self.buffers}, self.shared, self.onehot
        if self._subset_cache is None or self._subset_cache[0] != attacks:
            index = torch.as_tensor(attacks, device=next(iter(self.shared.values())).device)
            pick = lambda d: {n: t[index] for n, t in d.items()}  # noqa: E731
            onehot = self.onehot[index] if self.onehot is not None else None
            self._subset_cache = (list(attacks), (pick(self.params), pick({**self.frozen, **self.buffers}),
                                                  pick(self.shared), onehot))
        return self._subset_cache[1]

    def split(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        k = points.shape[0]
        x = points[:, :self.sizes[0]].reshape(k, *self.input_shape)
        y = points[:, self.sizes[0]:].reshape(k, *self.label_shape) if self.joint else None
        return x, y

    def __call__(self, attacks: list[int], points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Losses [k] and flat gradients [k, n] of ``attacks`` at ``points`` [k, n]."""
        params, rest, shared, onehot = self._subset(attacks)
        x, y = self.split(points)
        with torch.enable_grad():
            if self.joint:
                (gx, gy), loss = self._value_and_grad(x, y, params, rest, shared)
                flat = torch.cat([gx.reshape(len(attacks), -1), gy.reshape(len(attacks), -1)], dim=1)
            else:
                gx, loss = self._value_and_grad(x, onehot, params, rest, shared)
                flat = gx.reshape(len(attacks), -1)
        return loss.detach(), flat.detach()

    def values(self, attacks: list[int], points: torch.Tensor) -> torch.Tensor:
        """Losses only (no second-order graph): the final loss of finished attacks."""
        params, rest, shared, onehot = self._subset(attacks)
        x, y = self.split(points)
        with torch.enable_grad():  # the inner gradient needs autograd even without an outer one
            return self._value(x, y if self.joint else onehot, params, rest, shared).detach()
