"""Models the trainer builds by name: a small CNN for the 8x8 digits, ResNet-20 and ResNet18 for CIFAR.

The ResNets use the CIFAR stem (3x3 convolution, stride 1, no max-pool):
torchvision's ImageNet stem shrinks a 32x32 image to 1x1 too early.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sharegrad.errors import UserError
from sharegrad.seeding import derive_seed


class DigitsCNN(nn.Module):
    """Two 3x3 convolutions, a pool, two linear layers (~38k weights); no BatchNorm,
    so every rank's state is its weights alone."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, num_classes)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, shortcut: str):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.pad = 0
        self.project = None
        if stride != 1 or cin != cout:
            if shortcut == "pad":  # ResNet-20's option A: subsample and zero-pad channels, no weights
                self.pad, self.stride = cout - cin, stride
            else:
                self.project = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        if self.project is not None:
            x = self.project(x)
        elif self.pad:
            x = F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return F.relu(out + x)


class CifarResNet(nn.Module):
    def __init__(self, widths: list[int], blocks: list[int], num_classes: int, shortcut: str, in_channels: int = 3):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU())
        layers, cin = [], widths[0]
        for stage, (width, count) in enumerate(zip(widths, blocks)):
            for i in range(count):
                layers.append(BasicBlock(cin, width, 2 if (i == 0 and stage > 0) else 1, shortcut))
                cin = width
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


BUILDERS = {
    "digits_cnn": lambda num_classes, channels: DigitsCNN(num_classes, channels),
    "resnet20": lambda num_classes, channels: CifarResNet([16, 32, 64], [3, 3, 3], num_classes, "pad", channels),
    "resnet18": lambda num_classes, channels: CifarResNet([64, 128, 256, 512], [2, 2, 2, 2], num_classes,
                                                          "conv", channels),
}


def build_train_model(name: str, num_classes: int, in_channels: int, seed: int) -> nn.Module:
    """The same seed gives the same initial weights on every rank (no broadcast needed)."""
    if name not in BUILDERS:
        raise UserError(f"unknown training model {name!r}; choose one of {', '.join(sorted(BUILDERS))}")
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(derive_seed(seed, f"train-model:{name}"))
        return BUILDERS[name](num_classes, in_channels)
    finally:
        torch.random.set_rng_state(state)
