"""K gradient-match losses and their gradients in one vectorised pass.

DLG's objective for attack k is ||grad_W loss(F(x_k; W_k), y_k) - g_k||^2,
with its own victim weights W_k (every attack seeds its own model), dummy
input x_k, dummy label y_k and shared gradients g_k. ``torch.func`` writes it
once for one attack (functional_call on a weightless copy of the model, grad
inside grad) and vmaps it over the stacked W, x, y, g.

A model that ends in a Linear layer and says so (``head = "fc"`` and a
``features(x)`` with ``forward(x) == fc(features(x))``, as LeNet and the
ResNets do) has that layer's weight gradient written in its factored form:
grad_W = delta^T h, with delta = dloss/dlogits and h = features(x). The
term ||delta^T h - S||^2 then costs one fused pass to build the residual, one
to sum its squares and two small products for its gradients
(``LinearGradientDistance``), where autograd through the materialised [out, in]
gradient takes about ten passes over it: LeNet's fc weight is 90% of its
parameters, and those passes were half of an evaluation's time on a CPU.
Same objective, same gradient, other rounding.
"""

from __future__ import annotations

import copy
import time

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, grad_and_value, replace_all_batch_norm_modules_, stack_module_state, vmap

from sharegrad.attacks.base import soft_cross_entropy


class LinearGradientDistance(torch.autograd.Function):
    """||delta^T h - S||^2 and its gradients with respect to delta [B, out] and h [B, in].

    The residual R = delta^T h - S is built by one (b)addmm and kept for the backward
    pass: d/d delta = 2 h R^T, d/d h = 2 delta R (S, the victim's gradient, is a constant).
    Under vmap the K attacks go through as one batched call (``vmap`` below), not through
    addmm's batching rule, which splits into a product, a scaling and an addition."""

    @staticmethod
    def forward(delta, features, shared):
        if shared.dim() == 3:  # [K, out, in]: the batched call of ``vmap``
            residual = torch.baddbmm(shared, delta.transpose(1, 2), features, beta=-1)
        else:
            residual = torch.addmm(shared, delta.t(), features, beta=-1)
        return torch.linalg.vector_norm(residual, dim=(-2, -1)).square(), residual

    @staticmethod
    def setup_context(ctx, inputs, output):
        delta, features, _ = inputs
        ctx.save_for_backward(delta, features, output[1])
        ctx.mark_non_differentiable(output[1])

    @staticmethod
    def backward(ctx, grad, _grad_residual):
        delta, features, residual = ctx.saved_tensors
        scale = (2 * grad).reshape(grad.shape + (1, 1))  # [1, 1], or [K, 1, 1] if called batched
        # R h^T as (R h^T)^T: products with R as stored (a transposed R would be copied first)
        by_delta = residual.matmul(features.transpose(-1, -2)).transpose(-1, -2)
        return by_delta * scale, delta.matmul(residual) * scale, None

    @staticmethod
    def vmap(info, in_dims, delta, features, shared):
        def front(tensor, dim):
            return tensor.movedim(dim, 0) if dim is not None else tensor.expand(info.batch_size, *tensor.shape)

        batched = [front(t, d) for t, d in zip((delta, features, shared), in_dims)]
        return LinearGradientDistance.apply(*batched), (0, 0)


def factored_head(model: torch.nn.Module, trainable: list[str]) -> str | None:
    """The name of the model's final Linear layer when its weight gradient can be factored."""
    head = getattr(model, "head", None)
    if not isinstance(head, str) or not callable(getattr(model, "features", None)):
        return None
    layer = getattr(model, head, None)
    if not isinstance(layer, torch.nn.Linear) or layer.bias is None or f"{head}.weight" not in trainable \
            or f"{head}.bias" not in trainable:
        return None
    return head


class _Features(torch.nn.Module):
    """``model.features`` as a module's forward, for functional_call (parameter names keep the prefix ``m.``)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.m = model

    def forward(self, x):
        return self.m.features(x)


class GradientMatch:
    """The objective of K attacks on models of one architecture.

    ``joint``: the label is optimised too (DLG's softmax(y')); otherwise ``onehot``
    holds each attack's fixed labels [K, batch, classes] and only the input moves.
    Variables are flat per attack: [input, label] (joint) or [input], like the
    parameter order the sequential attack hands torch.optim.LBFGS.
    """

    def __init__(self, models: list[torch.nn.Module], shared: list[list[torch.Tensor]], input_shape: tuple[int, ...],
                 num_classes: int, joint: bool, onehot: torch.Tensor | None = None, factor_head: bool = True,
                 compile: bool = False, fixed_shape: bool = False):
        """``fixed_shape``: every call evaluates all K rows, each attack in its own row (the others
        at their latest point), as a compiled call must. On some CPUs the kernels vmap picks
        depend on how many rows a call has, so without it an attack's numbers change when
        another attack stops; with it they depend on the attack's own data only, which is what
        lets an attack resume from its checkpoint while the others are at other steps."""
        self.fixed_shape = fixed_shape and len(models) >= 2
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

        head = factored_head(models[0], self.names) if factor_head else None
        self.head = head

        def distance(x, soft, params, rest, shared):
            if head is not None:
                return factored_distance(x, soft, params, rest, shared)
            dummy_gradients = grad(task_loss)(params, rest, x, soft)
            # the sequential attack's sum((d - s)^2); (mse_loss's backward is a slow decomposition under vmap)
            return sum(((dummy_gradients[n] - shared[n]) ** 2).sum() for n in self.names)

        if head is not None:
            weight, bias = f"{head}.weight", f"{head}.bias"
            body = [n for n in self.names if n != weight]
            features = _Features(self.template)

            def head_loss(tail, rest, x, soft, head_weight):
                h = functional_call(features, {f"m.{n}": t for n, t in {**tail, **rest}.items()}, (x,))
                logits = F.linear(h, head_weight, tail[bias])
                return soft_cross_entropy(logits, soft), (h, logits)

            def factored_distance(x, soft, params, rest, shared):
                tail = {n: params[n] for n in body}
                dummy_gradients, (h, logits) = grad(head_loss, has_aux=True)(tail, rest, x, soft, params[weight])
                delta = grad(soft_cross_entropy)(logits, soft)  # dloss/dlogits, [batch, classes]
                total = sum(((dummy_gradients[n] - shared[n]) ** 2).sum() for n in body)
                if compile:  # inductor fuses the residual into its reduction; it cannot trace the Function's vmap
                    return total + ((delta.t().mm(h) - shared[weight]) ** 2).sum()
                return total + LinearGradientDistance.apply(delta, h, shared[weight])[0]

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
        self.compiled = compile
        self.compile_seconds = 0.0  # the first compiled call's time (tracing and code generation included)
        self._rows: torch.Tensor | None = None  # compiled: every attack's latest point (fixed-shape calls)
        if compile:
            self._value_and_grad = torch.compile(self._value_and_grad, dynamic=False)

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
        count = len(next(iter(self.shared.values())))
        if (self.compiled or self.fixed_shape) and attacks != list(range(count)):
            # a compiled call keeps one shape: all K rows, the others at their latest point
            # (rows are independent, so their values do not touch the asked ones)
            if self._rows is None:
                self._rows = torch.zeros(count, self.numel, dtype=points.dtype, device=points.device)
            distinct = list(dict.fromkeys(attacks))
            index = torch.as_tensor(distinct, device=points.device)
            first = [attacks.index(k) for k in distinct]
            torch.nan_to_num_(self._rows, nan=0.0, posinf=0.0, neginf=0.0)  # a stopped attack's last point
            self._rows.index_copy_(0, index, points[first])
            loss, flat = self(list(range(count)), self._rows)
            rows = torch.as_tensor(attacks, device=points.device)
            return loss[rows], flat[rows]
        if self.compiled or self.fixed_shape:
            self._rows = points.clone()
        if self.compiled:
            if not self.compile_seconds:
                start = time.perf_counter()
                result = self._evaluate(attacks, points)
                self.compile_seconds = time.perf_counter() - start
                return result
        return self._evaluate(attacks, points)

    def _evaluate(self, attacks: list[int], points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
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
