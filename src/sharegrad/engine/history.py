"""L-BFGS curvature histories: per attack (exact) or one batched store for K attacks.

``ListHistory`` computes the two-loop direction with torch's own sequence of
1-D ops, so it rounds exactly as torch.optim.LBFGS does; it costs ~4 small ops
per stored pair per iteration in Python. ``RingHistory`` keeps the K attacks'
pairs in one [K, history, n] buffer and runs the two loops once for all
requesting attacks (a few ops per stored pair, whatever K): the same formula,
rounded differently (batched dot products).
"""

from __future__ import annotations

import torch

ALIGN = 16  # float32 elements in 64 bytes


class ListHistory:
    batched = False

    def __init__(self, size: int):
        self.size = size
        self.dirs: list[torch.Tensor] = []  # y: gradient differences
        self.steps: list[torch.Tensor] = []  # s: steps taken
        self.ro: list[torch.Tensor] = []
        self._al: list = [None] * size

    def clear(self) -> None:
        self.dirs, self.steps, self.ro = [], [], []

    def push(self, y: torch.Tensor, s: torch.Tensor, ro) -> None:
        if len(self.dirs) == self.size:
            self.dirs.pop(0), self.steps.pop(0), self.ro.pop(0)
        self.dirs.append(y), self.steps.append(s), self.ro.append(ro)

    def direction(self, grad: torch.Tensor, h_diag) -> torch.Tensor:
        al = self._al
        q = grad.neg()
        for i in range(len(self.dirs) - 1, -1, -1):
            al[i] = self.steps[i].dot(q) * self.ro[i]
            q.add_(self.dirs[i], alpha=-al[i])
        r = torch.mul(q, h_diag)
        for i in range(len(self.dirs)):
            beta = self.dirs[i].dot(r) * self.ro[i]
            r.add_(self.steps[i], alpha=al[i] - beta)
        return r


class RingHistory:
    """Pairs of K attacks in ring buffers; ``slot(k)`` is attack k's view for the coroutine."""

    def __init__(self, attacks: int, size: int, numel: int, device, dtype=torch.float32):
        self.size = size
        self.numel = numel
        # rows padded with zeros to 64 bytes: a dot product rounds by where its row starts,
        # so every row starting aligned keeps an attack's numbers independent of its row
        self.width = -(-numel // ALIGN) * ALIGN
        self.y = torch.zeros(attacks, size, self.width, device=device, dtype=dtype)
        self.s = torch.zeros(attacks, size, self.width, device=device, dtype=dtype)
        self.ro = torch.zeros(attacks, size, device=device, dtype=dtype)
        self.head = [0] * attacks  # next slot to write
        self.length = [0] * attacks

    def slot(self, attack: int) -> "RingSlot":
        return RingSlot(self, attack)

    def directions(self, attacks: list[int], grads: torch.Tensor, h_diag: torch.Tensor) -> torch.Tensor:
        """Two-loop recursion for ``attacks`` (rows of ``grads``), newest pair first.

        Pairs an attack does not have yet are zeros in the buffer, so they add nothing."""
        device = grads.device
        depth = max(self.length[k] for k in attacks)
        rows = torch.as_tensor(attacks, device=device)
        head_rows = torch.as_tensor([self.head[k] for k in attacks], device=device)

        # every pair of every asked attack gathered once, newest first, into contiguous rows
        # [attack, age, width] (each row starts aligned, so an attack's rounding does not
        # depend on which other attacks are in the call)
        ages = torch.arange(depth, device=device)
        slots = (head_rows[:, None] - 1 - ages[None, :]) % self.size
        flat = (rows[:, None] * self.size + slots).reshape(-1)
        shape = (len(attacks), depth, self.width)
        s_all = self.s.view(-1, self.width).index_select(0, flat).view(shape)  # row copies, no per-element gather
        y_all = self.y.view(-1, self.width).index_select(0, flat).view(shape)
        ro_all = self.ro.view(-1).index_select(0, flat).view(shape[:2])

        q = torch.nn.functional.pad(grads.neg(), (0, self.width - self.numel))
        alphas = []
        for age in range(depth):
            alpha = torch.linalg.vecdot(s_all[:, age], q) * ro_all[:, age]
            q.sub_(alpha[:, None] * y_all[:, age])
            alphas.append(alpha)
        r = q * h_diag[:, None]
        for age in range(depth - 1, -1, -1):
            beta = torch.linalg.vecdot(y_all[:, age], r) * ro_all[:, age]
            r.add_((alphas[age] - beta)[:, None] * s_all[:, age])
        return r[:, :self.numel]


class RingSlot:
    batched = True

    def __init__(self, store: RingHistory, attack: int):
        self.store, self.attack = store, attack

    def clear(self) -> None:
        k = self.attack
        self.store.length[k] = 0
        self.store.head[k] = 0
        self.store.y[k].zero_(), self.store.s[k].zero_(), self.store.ro[k].zero_()

    def push(self, y: torch.Tensor, s: torch.Tensor, ro) -> None:
        store, k = self.store, self.attack
        head = store.head[k]
        store.y[k, head, :store.numel] = y
        store.s[k, head, :store.numel] = s
        store.ro[k, head] = ro
        store.head[k] = (head + 1) % store.size
        store.length[k] = min(store.length[k] + 1, store.size)
