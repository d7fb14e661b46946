"""Checkpoints inside an attack: a killed job resumes each attack where it was.

An attack saves its whole state (dummy variables, optimiser state, curves,
snapshots, step and evaluation counters) at the end of an outer step, every
``every_steps`` steps or ``every_seconds`` seconds, whichever comes first. The
checkpoint also carries what its caller asked to keep with it (``extra``: the
stage's observer, whose curves the record is built from), torch's random
generator states, the wall and CPU time spent so far, and how often the attack
was resumed. A rerun that finds a checkpoint with the same ``key`` (the stage's
``spec_key``: every setting and the attack's index), the same state layout and
the same engine takes it; anything else is ignored with a one-line message and
the attack starts afresh. Written to a temporary sibling, then ``os.replace``d,
so a killed write never leaves a half-written file under the name a rerun reads.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

# Bumped whenever what an attack saves changes shape: an older file is then ignored.
LAYOUT = 1
DEFAULT_EVERY_STEPS = 100
DEFAULT_EVERY_SECONDS = 120.0


@dataclass
class CheckpointPolicy:
    every_steps: int = DEFAULT_EVERY_STEPS  # 0: never by count
    every_seconds: float = DEFAULT_EVERY_SECONDS  # 0: never by time

    @property
    def enabled(self) -> bool:
        return self.every_steps > 0 or self.every_seconds > 0


class AttackCheckpoint:
    """One attack's checkpoint file; ``load`` once before the first step, ``maybe_save`` after each."""

    def __init__(self, path: Path, key: str, policy: CheckpointPolicy, engine: str, extra=None, log=print):
        self.path, self.key, self.policy, self.engine = Path(path), key, policy, engine
        self.extra = extra  # has state_dict() / load_state_dict(state): saved and restored with the attack
        self.log = log
        self.resumes = 0  # how many times this attack was resumed, this run included
        self.resumed_at: int | None = None
        self.prior_wall_s = 0.0  # spent by the earlier pieces, up to their last checkpoint
        self.prior_cpu_s = 0.0
        self.share = 1.0  # a batched chunk's time is shared by its K attacks: 1 / K
        self.saves = 0
        self.start()

    def start(self) -> None:
        self._wall0, self._cpu0 = time.perf_counter(), time.process_time()
        self._last_save = self._wall0

    def spent(self) -> tuple[float, float]:
        """Wall and CPU seconds of this attack over all its pieces so far."""
        return (self.prior_wall_s + (time.perf_counter() - self._wall0) * self.share,
                self.prior_cpu_s + (time.process_time() - self._cpu0) * self.share)

    def _ignore(self, why: str) -> None:
        self.log(f"ignoring checkpoint {self.path}: {why}; the attack starts afresh")

    def load(self) -> dict | None:
        """The attack's saved state, or None (no file, or one that is not this attack's)."""
        if not self.path.exists():
            return None
        try:
            payload = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # truncated or not a checkpoint at all
            self._ignore(f"unreadable ({type(exc).__name__})")
            return None
        if not isinstance(payload, dict) or "layout" not in payload:
            self._ignore("not a sharegrad checkpoint")
            return None
        if payload["layout"] != LAYOUT:
            self._ignore(f"state layout {payload['layout']}, this code writes layout {LAYOUT}")
            return None
        if payload.get("key") != self.key:
            self._ignore("written for other settings (spec_key differs)")
            return None
        if payload.get("engine") != self.engine:
            self._ignore(f"written by the {payload.get('engine')} engine, this run uses the {self.engine} engine")
            return None
        if self.extra is not None:
            self.extra.load_state_dict(payload["extra"])
        torch.random.set_rng_state(payload["rng"]["cpu"])
        if torch.cuda.is_available() and payload["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state_all(payload["rng"]["cuda"])
        self.resumes = int(payload["resumes"]) + 1
        self.prior_wall_s, self.prior_cpu_s = float(payload["wall_s"]), float(payload["cpu_s"])
        self.resumed_at = int(payload["step"])
        self.start()
        self.log(f"resuming from checkpoint {self.path} at step {self.resumed_at} (resume {self.resumes})")
        return payload["state"]

    def due(self, step: int) -> bool:
        p = self.policy
        return ((p.every_steps > 0 and step % p.every_steps == 0)
                or (p.every_seconds > 0 and time.perf_counter() - self._last_save >= p.every_seconds))

    def save(self, step: int, state: dict) -> None:
        wall, cpu = self.spent()
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
        payload = {"layout": LAYOUT, "key": self.key, "engine": self.engine, "step": step, "state": state,
                   "extra": self.extra.state_dict() if self.extra is not None else None,
                   "rng": {"cpu": torch.random.get_rng_state(), "cuda": cuda},
                   "resumes": self.resumes, "wall_s": wall, "cpu_s": cpu}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        torch.save(payload, tmp)
        os.replace(tmp, self.path)
        self._last_save = time.perf_counter()
        self.saves += 1

    def maybe_save(self, step: int, state) -> None:
        """Saves ``state()`` (a callable, so nothing is copied when no save is due) if one is due."""
        if self.policy.enabled and self.due(step):
            self.save(step, state())

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def cli_args(config: dict) -> str:
    """The stage options for the config's ``checkpoint_steps`` / ``checkpoint_seconds`` (set by a
    profile's ``config:``; the stage's defaults where they are absent)."""
    args = []
    if "checkpoint_steps" in config:
        args += ["--checkpoint-every-steps", str(int(config["checkpoint_steps"]))]
    if "checkpoint_seconds" in config:
        args += ["--checkpoint-every-seconds", str(float(config["checkpoint_seconds"]))]
    return " ".join(args)


def add_cli_options(parser, what: str) -> None:
    """The stages' checkpoint options (``what``: the running attack, or each running attack)."""
    parser.add_argument("--checkpoint-every-steps", type=int, default=DEFAULT_EVERY_STEPS,
                        help=f"with --stash: save {what}'s state every N outer steps (0: not by count)")
    parser.add_argument("--checkpoint-every-seconds", type=float, default=DEFAULT_EVERY_SECONDS,
                        help="with --stash: ... or every S seconds, whichever comes first (0: not by time; both 0: off)")


def policy_from_args(args) -> CheckpointPolicy:
    from sharegrad.errors import UserError

    if args.checkpoint_every_steps < 0 or args.checkpoint_every_seconds < 0:
        raise UserError("--checkpoint-every-steps and --checkpoint-every-seconds must be >= 0")
    return CheckpointPolicy(args.checkpoint_every_steps, args.checkpoint_every_seconds)


def restore(saved: dict, variables: list[torch.Tensor], optimizer) -> None:
    """Put a checkpoint's variables and optimiser state back (the attacks' shared resume step)."""
    with torch.no_grad():
        for variable, value in zip(variables, saved["variables"]):
            variable.copy_(value)
    optimizer.load_state_dict(saved["optimizer"])


def detached(tensor: torch.Tensor) -> torch.Tensor:
    """A copy that owns its storage: ``torch.save`` of a view writes the whole tensor it views."""
    return tensor.detach().clone()
