"""Training data and each rank's shard.

Every epoch all ranks draw the same seeded permutation of the training set
and rank r takes every N-th sample from position r (as DistributedSampler),
cut to whole batches; so the batches depend only on (seed, epoch, rank, step)
and a resumed run or the single-process reference sees the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from sharegrad import paths
from sharegrad.errors import UserError
from sharegrad.seeding import generator

CIFAR_MEAN = {"cifar10": (0.4914, 0.4822, 0.4465), "cifar100": (0.5071, 0.4865, 0.4409)}
CIFAR_STD = {"cifar10": (0.2470, 0.2435, 0.2616), "cifar100": (0.2673, 0.2564, 0.2762)}


@dataclass
class TrainData:
    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    augment: bool = False

    @property
    def in_channels(self) -> int:
        return self.x_train.shape[1]


def load_train_data(name: str, root: str | None = None, augment: bool = False) -> TrainData:
    if name == "digits":
        from sharegrad.data.digits import load_digits_split

        path = Path(root) if root else paths.DIGITS_FILE
        (xtr, ytr), (xte, yte) = (load_digits_split(path, s) for s in ("train", "test"))
        return TrainData(name, torch.from_numpy(xtr), torch.from_numpy(ytr), torch.from_numpy(xte),
                         torch.from_numpy(yte), 10, augment)
    if name in ("cifar10", "cifar100"):
        from sharegrad.data.cifar import load_image_set

        root = Path(root) if root else paths.CIFAR_ROOT
        sets = [load_image_set(name, split, root) for split in ("train", "test")]
        mean = torch.tensor(CIFAR_MEAN[name]).view(1, 3, 1, 1)
        std = torch.tensor(CIFAR_STD[name]).view(1, 3, 1, 1)
        xs = [(torch.from_numpy(s.images).permute(0, 3, 1, 2).float() / 255 - mean) / std for s in sets]
        ys = [torch.from_numpy(np.asarray(s.labels)).long() for s in sets]
        return TrainData(name, xs[0].contiguous(), ys[0], xs[1].contiguous(), ys[1], sets[0].num_classes, augment)
    raise UserError(f"unknown training data set {name!r}; choose digits, cifar10 or cifar100")


def steps_per_epoch(num_samples: int, world_size: int, batch_size: int) -> int:
    if world_size > num_samples:
        raise UserError(f"{world_size} ranks but only {num_samples} training samples: every rank needs data")
    steps = (num_samples // world_size) // batch_size
    if steps < 1:
        raise UserError(f"batch size {batch_size} per rank is larger than a rank's shard of "
                        f"{num_samples // world_size} samples ({num_samples} samples over {world_size} ranks)")
    return steps


@lru_cache(maxsize=2)
def _epoch_order(num_samples: int, epoch: int, seed: int) -> torch.Tensor:
    return torch.randperm(num_samples, generator=generator(seed, f"train-order:epoch{epoch}"))


def batch_indices(num_samples: int, world_size: int, rank: int, batch_size: int, epoch: int, step: int,
                  seed: int) -> torch.Tensor:
    """Indices of ``rank``'s batch ``step`` (within the epoch) of ``epoch``."""
    shard = _epoch_order(num_samples, epoch, seed)[rank::world_size]
    return shard[step * batch_size:(step + 1) * batch_size]


def augment_batch(x: torch.Tensor, seed: int, rank: int, step: int) -> torch.Tensor:
    """CIFAR's random crop (padding 4) and horizontal flip, seeded per rank and step."""
    g = generator(seed, f"augment:rank{rank}:step{step}")
    n, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    dx = torch.randint(0, 9, (n,), generator=g)
    dy = torch.randint(0, 9, (n,), generator=g)
    flip = torch.rand(n, generator=g) < 0.5
    out = torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])
    out[flip] = out[flip].flip(-1)
    return out


def get_batch(data: TrainData, world_size: int, rank: int, batch_size: int, epoch: int, step: int, seed: int,
              global_step: int) -> tuple[torch.Tensor, torch.Tensor]:
    index = batch_indices(len(data.y_train), world_size, rank, batch_size, epoch, step, seed)
    x, y = data.x_train[index], data.y_train[index]
    if data.augment:
        x = augment_batch(x, seed, rank, global_step)
    return x, y
