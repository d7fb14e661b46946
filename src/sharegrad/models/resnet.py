"""ResNets for 32 x 32 inputs (CIFAR stem: 3x3 conv, stride 1, no max-pool).

DLG needs a twice-differentiable network whose gradients still depend on the
input. Every variant the DLG image issue compares is a named form of one
class, so the ones that fail and the one that leaks differ only in the
options listed in their registration:

- ``resnet18``: torchvision's ResNet18 layout, ReLU, BatchNorm (the standard form;
  DLG's gradient matching fails on it, kept to show that).
- ``resnet18_sigmoid_bn``: ReLU -> Sigmoid, BatchNorm in train mode (batch-1 BatchNorm
  removes the input's scale: many inputs give the same gradients).
- ``resnet18_sigmoid``: the form used for the DLG results here: Sigmoid inside the
  residual branches only, so the residual stream carries the input's signal to every
  layer instead of being squashed by a sigmoid after each addition; no BatchNorm;
  every weight and bias from uniform(-0.5, 0.5) as in the DLG repository's init,
  scaled per layer by 1/sqrt(fan_in) ... see ``init`` below.
- ``resnet56_sigmoid``: the paper's network: CIFAR ResNet-56 (3 stages of 9 blocks,
  16/32/64 channels), Sigmoid, strides removed.
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn

from sharegrad.models import register_model

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}


class BasicBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int, activation: str, norm: bool, post_activation: bool):
        super().__init__()
        act = ACTIVATIONS[activation]
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=not norm)
        self.bn1 = nn.BatchNorm2d(planes) if norm else nn.Identity()
        self.act1 = act()
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=not norm)
        self.bn2 = nn.BatchNorm2d(planes) if norm else nn.Identity()
        self.shortcut = nn.Identity()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=not norm),
                                          nn.BatchNorm2d(planes) if norm else nn.Identity())
        self.act2 = act() if post_activation else nn.Identity()

    def forward(self, x):
        out = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        return self.act2(out + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, blocks: list[int], widths: list[int], strides: list[int], num_classes: int = 100,
                 activation: str = "relu", norm: bool = True, post_activation: bool = True, init: str = "default",
                 in_channels: int = 3):
        super().__init__()
        if not len(blocks) == len(widths) == len(strides):
            raise ValueError("blocks, widths and strides need one entry per stage")
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=not norm),
                                  nn.BatchNorm2d(widths[0]) if norm else nn.Identity(), ACTIVATIONS[activation]())
        layers, in_planes = [], widths[0]
        for count, width, stride in zip(blocks, widths, strides):
            for i in range(count):
                layers.append(BasicBlock(in_planes, width, stride if i == 0 else 1, activation, norm, post_activation))
                in_planes = width
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_planes, num_classes)
        self.options = {"activation": activation, "norm": norm, "post_activation": post_activation,
                        "strides": strides, "init": init}
        if init == "uniform":
            self._uniform_init()
        elif init != "default":
            raise ValueError(f"unknown init {init!r}")

    def _uniform_init(self):
        """The DLG repository's uniform(-0.5, 0.5), scaled by sqrt(12 / fan_in) * gain so each
        layer keeps its input's variance: unscaled, the sums over hundreds of inputs saturate
        every sigmoid and the gradients stop depending on the input (see the model docstring)."""
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                bound = 0.5 * math.sqrt(12.0 / fan_in)
                nn.init.uniform_(module.weight, -bound, bound)
                if module.bias is not None:
                    nn.init.uniform_(module.bias, -0.5, 0.5)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.uniform_(module.weight, -0.5, 0.5)
                nn.init.uniform_(module.bias, -0.5, 0.5)

    head = "fc"  # forward(x) == fc(features(x)); the batched engine factors fc's gradient (engine/evaluator.py)

    def features(self, x):
        return self.pool(self.layers(self.stem(x))).flatten(1)

    def forward(self, x):
        return self.fc(self.features(x))


def _resnet18(num_classes: int = 100, **options) -> ResNet:
    options.setdefault("strides", [1, 2, 2, 2])
    return ResNet([2, 2, 2, 2], [64, 128, 256, 512], num_classes=num_classes, **options)


def _resnet56(num_classes: int = 100, **options) -> ResNet:
    options.setdefault("strides", [1, 1, 1])
    return ResNet([9, 9, 9], [16, 32, 64], num_classes=num_classes, **options)


FORMS = {
    "resnet18": partial(_resnet18, activation="relu", norm=True, post_activation=True),
    "resnet18_sigmoid_bn": partial(_resnet18, activation="sigmoid", norm=True, post_activation=True),
    "resnet18_sigmoid_squashed": partial(_resnet18, activation="sigmoid", norm=False, post_activation=True,
                                         init="uniform"),
    "resnet18_sigmoid": partial(_resnet18, activation="sigmoid", norm=False, post_activation=False, init="uniform"),
    "resnet56_sigmoid": partial(_resnet56, activation="sigmoid", norm=False, post_activation=False, init="uniform"),
}
for _name, _constructor in FORMS.items():
    register_model(_name)(_constructor)
