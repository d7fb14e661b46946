"""CIFAR on-disk format: read it (real CIFAR or the embedded set) and download it.

The pickles are the ones torchvision downloads (``cifar-100-python/train`` with
``b"data"`` as N x 3072 uint8 rows, channel-planar, and ``b"fine_labels"``).
The embedded photographs are written in the same format, so this one loader
reads both and a figure made from either goes through the same code.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sharegrad import paths
from sharegrad.errors import UserError

# name -> (folder inside the root, label key, number of classes, torchvision class name)
FORMATS = {
    "cifar100": ("cifar-100-python", b"fine_labels", 100, "CIFAR100"),
    "cifar10": ("cifar-10-batches-py", b"labels", 10, "CIFAR10"),
    # The embedded photographs use CIFAR-100's layout and its 100 label slots.
    "embedded": ("cifar-100-python", b"fine_labels", 100, None),
}


@dataclass
class ImageSet:
    name: str
    images: np.ndarray  # N x 32 x 32 x 3, uint8
    labels: np.ndarray  # N, int64
    num_classes: int

    def __len__(self) -> int:
        return len(self.labels)

    def tensor(self, indices) -> tuple[torch.Tensor, torch.Tensor]:
        """Images in [0, 1] as N x 3 x 32 x 32 (ToTensor only, as the DLG repo) and labels."""
        for index in indices:
            if not 0 <= index < len(self):
                raise UserError(f"image index {index} is out of range: {self.name} has {len(self)} images (0..{len(self) - 1})")
        x = torch.from_numpy(self.images[list(indices)]).permute(0, 3, 1, 2).float() / 255.0
        y = torch.from_numpy(self.labels[list(indices)]).long()
        return x.contiguous(), y


def _split_file(folder: Path, name: str, split: str) -> list[Path]:
    if name == "cifar10":
        names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
        return [folder / n for n in names]
    return [folder / split]


def read_batches(files: list[Path], label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    data, labels = [], []
    for file in files:
        with open(file, "rb") as handle:
            entry = pickle.load(handle, encoding="bytes")
        data.append(np.asarray(entry[b"data"], dtype=np.uint8))
        labels.extend(entry[label_key])
    images = np.concatenate(data).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), np.asarray(labels, dtype=np.int64)


def load_image_set(name: str, split: str = "train", root: Path | None = None) -> ImageSet:
    if name not in FORMATS:
        raise UserError(f"unknown data set {name!r}; choose one of {sorted(FORMATS)}")
    if split not in ("train", "test"):
        raise UserError(f"unknown split {split!r}; choose train or test")
    folder_name, label_key, num_classes, _ = FORMATS[name]
    root = Path(root) if root is not None else paths.image_dataset_root(name)
    folder = root / folder_name
    files = _split_file(folder, name, split)
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        # the command that writes the files where they were looked for (its --root only if not the default)
        given = "" if root == paths.image_dataset_root(name) else f" --root {root}"
        how = (f"run `sharegrad data embedded{given}`" if name == "embedded"
               else f"run `sharegrad data cifar --name {name}{given}` on a machine with internet")
        raise UserError(f"data set {name!r} not found: {missing[0]} is missing; {how}")
    images, labels = read_batches(files, label_key)
    return ImageSet(name=name, images=images, labels=labels, num_classes=num_classes)


def write_cifar100_format(folder: Path, images: np.ndarray, labels: np.ndarray, filenames: list[str],
                          split: str, batch_label: str) -> None:
    """Write one split as CIFAR-100's pickle (images N x 32 x 32 x 3 uint8)."""
    folder.mkdir(parents=True, exist_ok=True)
    planar = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    entry = {
        b"batch_label": batch_label.encode(),
        b"filenames": [f.encode() for f in filenames],
        b"fine_labels": [int(v) for v in labels],
        b"coarse_labels": [int(v) // 5 for v in labels],
        b"data": planar.astype(np.uint8),
    }
    tmp = folder / f".{split}.tmp"
    with open(tmp, "wb") as handle:
        pickle.dump(entry, handle, protocol=2)
    tmp.replace(folder / split)


def download_cifar(name: str, root: Path) -> Path:
    """Fetch CIFAR with torchvision (users' machines; needs internet)."""
    import urllib.error

    import torchvision

    if name not in ("cifar10", "cifar100"):
        raise UserError(f"cannot download {name!r}: only cifar10 and cifar100 come from the internet")
    cls = getattr(torchvision.datasets, FORMATS[name][3])
    root.mkdir(parents=True, exist_ok=True)
    try:
        for train in (True, False):
            cls(root=str(root), train=train, download=True)
    except (urllib.error.URLError, OSError, RuntimeError) as exc:
        raise UserError(
            f"could not download {name} into {root}: {exc}. This needs internet access; offline, "
            f"copy an extracted {FORMATS[name][0]}/ folder into {root}, or run the embedded set "
            f"(--configfile experiments/smoke.yaml)") from None
    return root / FORMATS[name][0]
