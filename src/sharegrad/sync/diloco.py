"""``diloco(H)``: DiLoCo (Douillard et al. 2023, arXiv 2311.08105): H local steps, then an outer Nesterov step.

Every rank keeps two copies of the model: the *global* weights theta (equal on
every rank) and its *local* weights w, which its inner optimiser (sharegrad's
SGD with the run's learning rate, momentum and weight decay) moves every step
on its own batches. After every H inner steps the ranks all-reduce the
pseudo-gradient ``delta = theta - w`` (the average over ranks of how far each
moved) and take one outer step on theta with SGD and Nesterov momentum, as
torch.optim.SGD(nesterov=True, dampening 0) does it:

    b <- m_out * b + mean(delta);   theta <- theta - lr_out * (mean(delta) + m_out * b);   w <- theta

The inner optimiser's momentum stays local and is not reset (as in DiLoCo).
With H = 1, lr_out = 1 and m_out = 0 this is ``sync``: every step starts from
the common theta, so the mean pseudo-gradient is lr times the mean of the
ranks' momentum buffers, and that mean obeys sync's recursion
u <- m u + mean(v) because averaging is linear (tests/test_sync_diloco.py).

Defaults lr_out = 0.7, m_out = 0.9: the DiLoCo paper's outer optimiser, as
OpenDiLoCo runs it (PrimeIntellect-ai/OpenDiloco, open_diloco/train_diloco_torch.py:
``torch.optim.SGD(params, lr=outer_lr, momentum=0.9, nesterov=True)`` with
``outer_lr: float = 0.7``); torchft's DiLoCo takes the outer optimiser from the
caller. The paper's inner optimiser is AdamW; here it is the run's SGD, so the
outer settings may not transfer to this inner optimiser unchanged.

The same class runs Streaming DiLoCo (``streaming_diloco.py``): the model is
cut into F fragments, fragment f is synchronised on its own staggered
schedule, and its outer update may arrive tau inner steps late and be mixed
into the local weights (``mix``, alpha). DiLoCo is F = 1, tau = 0.

Fragments. The model's parameter-holding modules, in ``named_parameters``
order, are dealt to fragments in turn (module i goes to fragment i mod F; a
module's weight and bias stay together): the paper's strided pattern, which
puts early and late layers in every fragment. Fragment f's offset is
``o_f = floor(H * (f + 1) / F)`` (torchft's choice: the last fragment syncs at
H, 2H, ..., as DiLoCo does); after n inner steps (n = step + 1) fragment f
starts a sync when ``n >= o_f`` and ``(n - o_f) % H == 0``. Its first round is
therefore o_f steps long.

Overlap. The all-reduce of fragment f started after step n is waited for
after step n + tau (tau < H, so it has arrived before the fragment's next
sync starts). Then the outer step is taken on theta_f with the averaged
pseudo-gradient computed at step n, and the local fragment becomes
``alpha * w_f + (1 - alpha) * theta_f``: with alpha = 0 (the default, as
torchft's ``fragment_update_alpha``) the tau local steps on that fragment are
dropped and the fragment restarts from the new global value; alpha > 0 keeps
that share of them. With tau = 0 the update is applied in the step it was
started, before any further local step. FP4 quantisation of the outer
gradients (the streaming paper's third part) is not implemented: payloads
travel in the weights' dtype, and the Communicator counts them as such.

finish() waits for the fragments in flight and applies them; then, if any
rank's local weights can differ from theta (inner steps since a fragment's
last sync began, or alpha > 0), one all-reduce of the local weights makes the
final model their average on every rank (local SGD's and FedAvg's final
model); the outer optimiser takes no partial step.

Checkpoints: supported. In-flight averages are waited for when a checkpoint
is written and stored with the steps they are due, as dts.py does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sharegrad.errors import UserError
from sharegrad.sync import FlatSGDMethod, SyncOptions, register_sync
from sharegrad.sync.comm import Handle


@dataclass
class InFlight:
    """A fragment's averaged pseudo-gradient on its way back."""

    fragment: int
    handle: Handle
    due: int  # applied after this many inner steps


def strided_fragments(model: torch.nn.Module, count: int) -> list[list[tuple[int, int]]]:
    """Per fragment, the (start, end) ranges of the flat vector its modules' parameters occupy."""
    modules: dict[str, list[int]] = {}
    offset = 0
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        owner = name.rsplit(".", 1)[0] if "." in name else ""
        modules.setdefault(owner, []).extend([offset, offset + p.numel()])
        offset += p.numel()
    if count > len(modules):
        raise UserError(f"{count} fragments asked for, but the model has only {len(modules)} parameter-holding "
                        f"modules to deal out; use --fragments <= {len(modules)}")
    fragments: list[list[tuple[int, int]]] = [[] for _ in range(count)]
    for i, bounds in enumerate(modules.values()):
        fragments[i % count] += list(zip(bounds[0::2], bounds[1::2]))
    return fragments


class DiLoCo(FlatSGDMethod):
    def __init__(self, period: int, outer_lr: float, outer_momentum: float, fragments: int = 1, overlap: int = 0,
                 mix: float = 0.0, name: str = "diloco"):
        if fragments > period:
            raise UserError(f"{name}: {fragments} fragments need at least as many inner steps between syncs "
                            f"(period H = {period}), so that no two fragments share an offset")
        if overlap >= period:
            raise UserError(f"{name}: overlap tau = {overlap} must be < period H = {period}: a fragment's "
                            f"update has to arrive before its next sync starts")
        self.period, self.outer_lr, self.outer_momentum = period, outer_lr, outer_momentum
        self.fragment_count, self.overlap, self.mix = fragments, overlap, mix
        if name == "diloco":
            self.label = f"diloco(H={period},lr={outer_lr:g},m={outer_momentum:g})"
        else:
            self.label = (f"streaming_diloco(H={period},F={fragments},tau={overlap},alpha={mix:g},"
                          f"lr={outer_lr:g},m={outer_momentum:g})")

    def setup(self, model, optim, comm, defense=None):
        super().setup(model, optim, comm, defense)
        ranges = strided_fragments(model, self.fragment_count)
        self.index = [torch.cat([torch.arange(a, b, device=self.w.device) for a, b in parts]) for parts in ranges]
        self.offsets = [self.period * (f + 1) // self.fragment_count for f in range(self.fragment_count)]
        self.theta = self.w.detach().clone()          # global weights, equal on every rank
        self.outer_buffer = torch.zeros_like(self.w)  # outer Nesterov momentum
        self.in_flight: list[InFlight] = []
        self.dirty = [False] * self.fragment_count    # local fragment may differ from theta
        self.steps_done = 0

    def starts_sync(self, fragment: int, steps_done: int) -> bool:
        offset = self.offsets[fragment]
        return steps_done >= offset and (steps_done - offset) % self.period == 0

    def train_step(self, step, closure):
        v, loss = self.local_gradient(step, closure)
        self.apply(v, self.optim.lr_at(step))
        self.dirty = [True] * self.fragment_count
        self.steps_done = n = step + 1
        for f in range(self.fragment_count):
            if self.starts_sync(f, n):
                self._start(f, n)
        self._apply_arrived(n)
        return loss

    def _start(self, fragment: int, steps_done: int) -> None:
        index = self.index[fragment]
        pseudo_gradient = self.theta[index] - self.w[index]
        handle = self.comm.all_reduce(pseudo_gradient, async_op=self.overlap > 0)
        self.in_flight.append(InFlight(fragment, handle, steps_done + self.overlap))

    def _apply_arrived(self, steps_done: int | None) -> None:
        keep = []
        for pending in self.in_flight:
            if steps_done is None or pending.due <= steps_done:
                self._outer_step(pending.fragment, pending.handle.wait())
            else:
                keep.append(pending)
        self.in_flight = keep

    def _outer_step(self, fragment: int, delta: torch.Tensor) -> None:
        index, m = self.index[fragment], self.outer_momentum
        buffer = self.outer_buffer[index].mul_(m).add_(delta)
        self.outer_buffer[index] = buffer
        theta = self.theta[index] - self.outer_lr * (delta + m * buffer)
        self.theta[index] = theta
        if self.mix:
            self.w[index] = self.mix * self.w[index] + (1 - self.mix) * theta
        else:
            self.w[index] = theta
            self.dirty[fragment] = False

    def finish(self):
        self._apply_arrived(None)
        if any(self.dirty) and self.comm.world_size > 1:
            average = self.comm.all_reduce(self.w.clone()).tensor
            self.w.copy_(average)
            self.theta.copy_(average)
            self.dirty = [False] * self.fragment_count

    def state_dict(self):
        return {
            **super().state_dict(), "theta": self.theta.clone(), "outer_buffer": self.outer_buffer.clone(),
            "dirty": list(self.dirty),
            "in_flight": [{"fragment": p.fragment, "average": p.handle.wait().clone(), "due": p.due}
                          for p in self.in_flight],
        }

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.theta.copy_(state["theta"])
        self.outer_buffer.copy_(state["outer_buffer"])
        self.dirty = list(state["dirty"])
        self.in_flight = [InFlight(p["fragment"], Handle(self.comm, p["average"], None, False, 0.0, 0, done=True),
                                   p["due"]) for p in state["in_flight"]]


@register_sync("diloco", options=("period", "outer_lr", "outer_momentum"))
def diloco(options: SyncOptions):
    return DiLoCo(options.period, options.outer_lr, options.outer_momentum)
