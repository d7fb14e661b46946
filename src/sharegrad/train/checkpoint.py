"""Checkpoints of a distributed run: one file per rank, and a manifest naming the last complete step.

A rank's file is written to a temporary name and renamed (atomic on POSIX).
Only when every rank has written its file for step s does rank 0 rename a
new manifest into place, so a run killed at any moment resumes from a step
that every rank has.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from sharegrad.errors import UserError


def _atomic_torch_save(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def rank_file(folder: Path, rank: int, step: int) -> Path:
    return folder / f"rank{rank}-step{step}.pt"


def save(folder: Path, comm, step: int, state: dict, fingerprint: str) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _atomic_torch_save(state, rank_file(folder, comm.rank, step))
    comm.barrier()
    if comm.rank == 0:
        manifest = {"step": step, "world_size": comm.world_size, "fingerprint": fingerprint}
        tmp = folder / ".latest.json.tmp"
        tmp.write_text(json.dumps(manifest))
        os.replace(tmp, folder / "latest.json")
    comm.barrier()
    for old in folder.glob(f"rank{comm.rank}-step*.pt"):
        if old != rank_file(folder, comm.rank, step):
            old.unlink(missing_ok=True)


def load(folder: Path, comm, fingerprint: str, device: torch.device) -> dict | None:
    """This rank's state of the last complete step, or None when there is none."""
    manifest_path = Path(folder) / "latest.json"
    if not manifest_path.exists():
        return None
    manifest = json.loads(manifest_path.read_text())
    if manifest["world_size"] != comm.world_size:
        raise UserError(f"checkpoint in {folder} was made by {manifest['world_size']} ranks, this run has "
                        f"{comm.world_size}; use another --checkpoint-dir or delete it")
    if manifest["fingerprint"] != fingerprint:
        raise UserError(f"checkpoint in {folder} belongs to a run with other settings; use another "
                        f"--checkpoint-dir or delete it")
    path = rank_file(Path(folder), comm.rank, manifest["step"])
    if not path.exists():
        raise UserError(f"checkpoint manifest names step {manifest['step']} but {path} is missing")
    return torch.load(path, map_location=device, weights_only=False)
