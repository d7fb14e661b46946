"""What every result records about where and how it was made."""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import torch

_PACKAGES = ["sharegrad", "torch", "torchvision", "numpy", "scikit-image", "transformers", "lpips", "snakemake"]


def package_versions() -> dict[str, str]:
    return dict(_package_versions())


@functools.lru_cache(maxsize=1)  # read once per process, not once per attack
def _package_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


# Where a change alters what a run computes: the package, the workflow, the configs, the benchmarks and
# the files that pin the environment. An untracked file there counts as much as a modified one: a plug-in
# is one new file (a defense, an attack) that registers itself, and a run that used it must not be stamped
# with the bare commit.
CODE_PATHS = ["src", "workflow", "experiments", "benchmarks", "Snakefile", "pyproject.toml"]
# A record names at most this many changed files (and how many more there were).
MAX_NAMED = 20


def git_state(root: Path | str | None = None) -> tuple[str, list[str]]:
    """(commit, changed files) of the checkout holding ``root`` (default: this package's).

    The commit ends in ``-dirty`` when a file under CODE_PATHS is modified, staged, deleted or untracked
    (ignored files, such as ``__pycache__``, do not count); the list names those files relative to the
    checkout's top folder. ``unknown`` outside a git checkout."""
    cwd = Path(root) if root is not None else Path(__file__).resolve().parent
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, timeout=5,
                             cwd=cwd)
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=cwd)
        if top.returncode != 0 or head.returncode != 0:
            return "unknown", []
        status = subprocess.run(["git", "status", "--porcelain=v1", "-z", "--untracked-files=all", "--",
                                 *CODE_PATHS], capture_output=True, text=True, timeout=10, cwd=top.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return "unknown", []
    if status.returncode != 0:
        return "unknown", []
    changed, entries = [], iter(status.stdout.split("\0"))
    for entry in entries:
        if len(entry) < 4:
            continue
        changed.append(entry[3:])
        if entry[0] in "RC":  # a rename or copy is followed by its source path
            next(entries, None)
    commit = head.stdout.strip()
    return commit + ("-dirty" if changed else ""), sorted(changed)


@functools.lru_cache(maxsize=1)  # git once per process, not once per attack
def _package_git_state() -> tuple[str, tuple[str, ...]]:
    commit, changed = git_state()
    return commit, tuple(changed)


def git_commit() -> str:
    """This package's commit, ``-dirty`` when files under CODE_PATHS are modified or untracked."""
    return _package_git_state()[0]


def git_changed_files() -> list[str]:
    """The files that make git_commit() dirty, at most MAX_NAMED of them named, then how many more."""
    changed = list(_package_git_state()[1])
    if len(changed) > MAX_NAMED:
        return changed[:MAX_NAMED] + [f"... and {len(changed) - MAX_NAMED} more"]
    return changed


def device_description(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu:{platform.processor() or platform.machine()}"


def config_hash(settings: dict) -> str:
    blob = json.dumps(settings, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def provenance(device: torch.device, settings: dict) -> dict:
    return {
        "git_commit": git_commit(),
        # What made the commit dirty: modified or untracked files under CODE_PATHS (empty when clean).
        "git_changed_files": git_changed_files(),
        "config_hash": config_hash(settings),
        "versions": package_versions(),
        "device": device_description(device),
        "torch_threads": torch.get_num_threads(),
        "host": socket.gethostname(),
        # Under SLURM: which job made it (empty on a workstation).
        "slurm_job_id": os.environ.get("SLURM_JOB_ID", ""),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
    }


# Held for the life of the process: the lock on a GPU is its claim, and the
# kernel drops it when the process ends, however it ends.
_CLAIMED: list = []


def gpu_lock_dir() -> Path:
    return Path(os.environ.get("SHAREGRAD_GPU_LOCK_DIR", Path(tempfile.gettempdir()) / "sharegrad-gpu-locks"))


def claim_gpu(count: int, lock_dir: Path | None = None) -> tuple[int, bool]:
    """Claim one of ``count`` GPUs for this process: (index, exclusive).

    Snakemake caps how many GPU jobs run at once (the profile's ``gpu``
    resource) but does not say which card each gets; each job takes the first
    card no other sharegrad process holds. When every card is held (the user
    raised ``gpu`` above the number of cards, to share), the job shares a card
    picked by its process id, and says so.
    """
    lock_dir = Path(lock_dir or gpu_lock_dir())
    lock_dir.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        handle = open(lock_dir / f"gpu{index}.lock", "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _CLAIMED.append(handle)
        return index, True
    return os.getpid() % count, False


def pick_device(requested: str = "auto") -> torch.device:
    """``auto`` takes CUDA when present; the choice is recorded with the result.

    With several visible GPUs and no pinning from outside (SLURM or the user set
    CUDA_VISIBLE_DEVICES to one card; torchrun sets LOCAL_RANK), ``auto`` claims
    a card of its own, so parallel jobs of one workstation spread over the cards.
    """
    device = _pick_device(requested)
    if requested == "auto" and device.type == "cuda" and "LOCAL_RANK" not in os.environ:
        count = torch.cuda.device_count()
        if count > 1:
            index, exclusive = claim_gpu(count)
            if not exclusive:
                print(f"sharegrad: all {count} GPUs are held by other sharegrad jobs; sharing cuda:{index}",
                      file=sys.stderr)
            device = torch.device(f"cuda:{index}")
            torch.cuda.set_device(device)
    return device


def _pick_device(requested: str) -> torch.device:
    from sharegrad.errors import UserError

    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {requested!r} asked for, but CUDA is not available here; use --device cpu or auto")
    try:
        return torch.device(requested)
    except RuntimeError as exc:
        raise UserError(f"unknown device {requested!r}: {exc}") from None
