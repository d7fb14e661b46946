"""What every result records about where and how it was made."""

from __future__ import annotations

import hashlib
import json
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import torch

_PACKAGES = ["sharegrad", "torch", "torchvision", "numpy", "scikit-image", "transformers", "lpips", "snakemake"]


def package_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        commit = out.stdout.strip() if out.returncode == 0 else "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, timeout=5, cwd=Path(__file__).resolve().parent).stdout.strip()
        return commit + ("-dirty" if dirty and commit != "unknown" else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


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
        "config_hash": config_hash(settings),
        "versions": package_versions(),
        "device": device_description(device),
        "torch_threads": torch.get_num_threads(),
        "host": socket.gethostname(),
    }


def pick_device(requested: str = "auto") -> torch.device:
    """``auto`` takes CUDA when present; the choice is recorded with the result."""
    from sharegrad.errors import UserError

    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {requested!r} asked for, but CUDA is not available here; use --device cpu or auto")
    try:
        return torch.device(requested)
    except RuntimeError as exc:
        raise UserError(f"unknown device {requested!r}: {exc}") from None
