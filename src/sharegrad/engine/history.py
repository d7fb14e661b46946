"""L-BFGS curvature histories: per attack (exact) or one batched store for K attacks.

``ListHistory`` computes the two-loop direction with torch's own sequence of
1-D ops, so it rounds exactly as torch.optim.LBFGS does; it costs ~4 small ops
per stored pair per iteration in Python. ``RingHistory`` keeps the K attacks'
pairs in one [K, history, n] buffer and runs the two loops once for all
requesting attacks (a few ops per stored pair, whatever K): the same formula,
rounded differently (batched dot products). ``CompactHistory`` (the batched
engine's default) gives each attack the same matrix from L-BFGS's compact form:
a handful of matrix-vector products per direction instead of 4 x (pairs) ops.
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

    def state_dict(self) -> dict:
        return {"dirs": list(self.dirs), "steps": list(self.steps), "ro": list(self.ro)}

    def load_state_dict(self, state: dict) -> None:
        self.dirs, self.steps, self.ro = list(state["dirs"]), list(state["steps"]), list(state["ro"])

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

    def state_dict(self) -> dict:
        store, k = self.store, self.attack
        return {"y": store.y[k].clone(), "s": store.s[k].clone(), "ro": store.ro[k].clone(),
                "head": store.head[k], "length": store.length[k]}

    def load_state_dict(self, state: dict) -> None:
        store, k = self.store, self.attack
        store.y[k], store.s[k], store.ro[k] = state["y"], state["s"], state["ro"]
        store.head[k], store.length[k] = state["head"], state["length"]

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


class CompactHistory:
    """The K attacks' pairs with their Gram matrices: the direction from the compact form.

    The two-loop recursion is 4 x (pairs) small ops per direction, each over the
    K requesting attacks. The compact form of the same L-BFGS matrix (Byrd,
    Nocedal and Schnabel 1994; Nocedal and Wright eq. 7.24),

        H g = gamma g + S^T t - gamma Y^T u,   u = R^-1 S g,
        t = R^-T ((D + gamma Y Y^T) u - gamma Y g),

    with R the upper triangle of the pairs' s_i . y_j in push order and D its
    diagonal, needs S g, Y g, the new pair's Gram entries (S y_new, Y s_new,
    Y y_new) and two triangular solves of size (pairs). Taken together, the five
    products are one matrix product each for S and Y ([S; Y] times the columns
    s_new, y_new, g), and the direction S^T t - gamma Y^T u one more: two reads of
    the history per iteration (~2.5 MB each for DLG on 32x32), against four
    for the two-loop recursion. Each attack's direction is computed in its own
    coroutine right after its push: one product over all K attacks at once
    would stream the whole store from memory. An attack's numbers never depend
    on the other attacks. Same matrix as the two-loop recursion, other rounding.
    """

    def __init__(self, attacks: int, size: int, numel: int, device, dtype=torch.float32):
        self.size, self.numel = size, numel
        self.s = torch.zeros(attacks, size, numel, device=device, dtype=dtype)
        self.y = torch.zeros(attacks, size, numel, device=device, dtype=dtype)
        self.sy = torch.zeros(attacks, size, size, device=device, dtype=dtype)  # [k, i, j] = s_i . y_j
        self.yy = torch.zeros(attacks, size, size, device=device, dtype=dtype)
        self.head = [0] * attacks
        self.pushed = [0] * attacks
        self.pending: list[int | None] = [None] * attacks  # slot pushed whose products are not yet taken

    def slot(self, attack: int) -> "CompactSlot":
        return CompactSlot(self, attack)

    def _products(self, k: int, count: int, columns: list[torch.Tensor]) -> torch.Tensor:
        """[2, count, len(columns)]: the first ``count`` rows of S and of Y times each column, one read of each."""
        rows = torch.stack(columns)  # [c, n] @ [n, count]: MKL's fast path for a short-fat product
        return torch.stack([rows.mm(self.s[k, :count].t()), rows.mm(self.y[k, :count].t())]).transpose(1, 2)

    def _store_products(self, k: int, h: int, count: int, products: torch.Tensor) -> None:
        """Gram entries of the pair in slot h from [S; Y] @ [s_h, y_h] (columns 0 and 1 of ``products``)."""
        self.sy[k, h, :count] = products[1, :, 0]  # s_h . y_j
        self.sy[k, :count, h] = products[0, :, 1]  # s_i . y_h
        self.yy[k, h, :count] = products[1, :, 1]
        self.yy[k, :count, h] = products[1, :, 1]

    def _flush(self, k: int) -> None:
        h = self.pending[k]
        if h is not None:
            count = min(self.pushed[k], self.size)
            self._store_products(k, h, count, self._products(k, count, [self.s[k, h], self.y[k, h]]))
            self.pending[k] = None

    def _direction(self, k: int, g: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        count = min(self.pushed[k], self.size)
        if count == 0:
            return g.neg() * gamma
        h = self.pending[k]
        if h is None:
            products = self._products(k, count, [g])
            sg, yg = products[0, :, 0], products[1, :, 0]
        else:  # the new pair's Gram entries and S g, Y g from one read of S and Y
            products = self._products(k, count, [self.s[k, h], self.y[k, h], g])
            self._store_products(k, h, count, products)
            self.pending[k] = None
            sg, yg = products[0, :, 2], products[1, :, 2]
        if self.pushed[k] <= self.size:  # not wrapped: slots 0 .. count-1 are already in push order
            order = None
            sy, yy = self.sy[k, :count, :count], self.yy[k, :count, :count]
        else:  # wrapped: products over the slots as stored, only the small matrices and vectors reordered
            order = torch.remainder(torch.arange(self.size, device=g.device) + self.head[k], self.size)
            sy, yy = self.sy[k][order][:, order], self.yy[k][order][:, order]
            sg, yg = sg[order], yg[order]
        r = torch.triu(sy)
        u = torch.linalg.solve_triangular(r, sg[:, None], upper=True)[:, 0]
        w = torch.diagonal(r) * u + gamma * (yy @ u - yg)
        t = torch.linalg.solve_triangular(r.T, w[:, None], upper=False)[:, 0]
        if order is not None:  # back to slot order
            t, u = torch.empty_like(t).index_copy_(0, order, t), torch.empty_like(u).index_copy_(0, order, u)
        # H g = S^T t - gamma Y^T u + gamma g: the second (and last) read of S and Y
        direction = torch.addmv(g * gamma, self.s[k, :count].t(), t)
        return torch.addmv(direction, self.y[k, :count].t(), u * gamma, alpha=-1).neg()


class CompactSlot:
    # the direction is computed right after the push, in the attack's own coroutine, while
    # its S and Y are still in cache (not in one batched call over all K attacks' stores)
    batched = False

    def __init__(self, store: CompactHistory, attack: int):
        self.store, self.attack = store, attack

    def direction(self, grad: torch.Tensor, h_diag) -> torch.Tensor:
        return self.store._direction(self.attack, grad, torch.as_tensor(h_diag, dtype=grad.dtype, device=grad.device))

    def state_dict(self) -> dict:
        store, k = self.store, self.attack
        return {"s": store.s[k].clone(), "y": store.y[k].clone(), "sy": store.sy[k].clone(),
                "yy": store.yy[k].clone(), "head": store.head[k], "pushed": store.pushed[k],
                "pending": store.pending[k]}

    def load_state_dict(self, state: dict) -> None:
        store, k = self.store, self.attack
        store.s[k], store.y[k], store.sy[k], store.yy[k] = state["s"], state["y"], state["sy"], state["yy"]
        store.head[k], store.pushed[k], store.pending[k] = state["head"], state["pushed"], state["pending"]

    def clear(self) -> None:
        store, k = self.store, self.attack
        store.head[k], store.pushed[k], store.pending[k] = 0, 0, None
        store.s[k].zero_(), store.y[k].zero_(), store.sy[k].zero_(), store.yy[k].zero_()

    def push(self, y: torch.Tensor, s: torch.Tensor, ro) -> None:
        """Stores the pair; its Gram entries are computed with the next direction's products."""
        store, k = self.store, self.attack
        store._flush(k)  # two pushes without a direction between them (not in L-BFGS, but allowed)
        h = store.head[k]
        store.s[k, h], store.y[k, h] = s, y
        store.pushed[k] += 1
        store.pending[k] = h
        store.head[k] = (h + 1) % store.size
