"""ResNet-20 and ResNet18 for CIFAR, as the trainer builds them.

The ResNets use the CIFAR stem (3x3 convolution, stride 1, no max-pool):
torchvision's ImageNet stem shrinks a 32x32 image to 1x1 too early.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from sharegrad.train.models import register_train_model


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


@register_train_model("resnet20")
def resnet20(num_classes: int, in_channels: int = 3) -> nn.Module:
    return CifarResNet([16, 32, 64], [3, 3, 3], num_classes, "pad", in_channels)


@register_train_model("resnet18")
def resnet18(num_classes: int, in_channels: int = 3) -> nn.Module:
    return CifarResNet([64, 128, 256, 512], [2, 2, 2, 2], num_classes, "conv", in_channels)
