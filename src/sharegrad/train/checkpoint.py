"""Checkpoints of a distributed run: one file per rank, and a manifest naming the last complete step.

A rank's file is written to a temporary name and renamed (atomic on POSIX).
Only when every rank has written its file for step s does rank 0 rename a
new manifest into place, so a run killed at any moment resumes from a step
that every rank has.

One run writes a folder at a time (``FolderLock``): rank 0 takes the lock
file ``owner.lock`` (its pid, host and a random token) before anything is
read or written and removes it at the end. A second run is refused with the
owner's pid and host; a lock whose process is gone (same host, pid not
running: a killed run) is taken over with a message. Every rank checks before
each write that the lock still holds its run's token, so an orphaned rank of a
killed run that wakes up after a resumed run took over stops without writing.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import uuid
from pathlib import Path

import torch

from sharegrad.errors import UserError

LOCK_NAME = "owner.lock"


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: running
        return True
    return True


def _read_owner(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def _describe(owner: dict | None) -> str:
    if owner is None:
        return "an unknown owner"
    return f"process {owner.get('pid')} on {owner.get('host')}"


class FolderLock:
    """The right to write one checkpoint folder, held by one run (all of its ranks)."""

    def __init__(self, folder: Path, token: str, holder: bool):
        self.folder, self.path, self.token, self.holder = folder, folder / LOCK_NAME, token, holder

    @classmethod
    def acquire(cls, folder: Path, comm) -> "FolderLock":
        folder = Path(folder)
        failure = None
        if comm.rank == 0:
            try:
                _take(folder)
            except UserError as exc:
                failure = exc
        lowest, _ = comm.agree(0.0 if failure else 1.0)
        if failure is not None:
            raise failure
        if lowest < 1:
            raise UserError(f"rank 0 could not lock checkpoint folder {folder} (its error says why)")
        owner = _read_owner(folder / LOCK_NAME)
        if owner is None:
            raise UserError(f"the lock of checkpoint folder {folder} vanished while this run started")
        return cls(folder, owner["token"], comm.rank == 0)

    def verify(self) -> None:
        """Refuse to write unless the folder is still this run's."""
        owner = _read_owner(self.path)
        if owner is None or owner.get("token") != self.token:
            raise UserError(f"checkpoint folder {self.folder} is no longer this run's (its lock names "
                            f"{_describe(owner)}); this process stops without writing to it")

    def release(self) -> None:
        if self.holder:
            owner = _read_owner(self.path)
            if owner is not None and owner.get("token") == self.token:
                self.path.unlink(missing_ok=True)


def _take(folder: Path) -> None:
    """Create the lock file for this process, or take over a dead owner's; refuse a live one."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    record = {"pid": os.getpid(), "host": socket.gethostname(), "token": uuid.uuid4().hex}
    tmp = folder / f".{LOCK_NAME}.{record['token']}"
    tmp.write_text(json.dumps(record))
    try:
        try:
            os.link(tmp, path)  # atomic, and fails if the lock exists: never a half-written lock
            return
        except FileExistsError:
            pass
        owner = _read_owner(path)
        if owner is not None and owner.get("host") == record["host"] and not _pid_running(int(owner["pid"])):
            print(f"sharegrad: checkpoint folder {folder}: taking over the lock of {_describe(owner)}, which is "
                  f"no longer running", file=sys.stderr)
            os.replace(tmp, path)
            return
        raise UserError(f"checkpoint folder {folder} is in use by {_describe(owner)} (lock file {path}): another "
                        f"run writes there. Wait for it or stop it, or use another --checkpoint-dir; if that "
                        f"process is gone, delete {path}")
    finally:
        tmp.unlink(missing_ok=True)


def _atomic_torch_save(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def rank_file(folder: Path, rank: int, step: int) -> Path:
    return folder / f"rank{rank}-step{step}.pt"


def save(folder: Path, comm, step: int, state: dict, fingerprint: str, lock: FolderLock) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock.verify()
    _atomic_torch_save(state, rank_file(folder, comm.rank, step))
    comm.barrier()
    if comm.rank == 0:
        lock.verify()
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
