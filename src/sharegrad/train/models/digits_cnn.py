"""A small CNN for the 8x8 digits: the DTS acceptance model on CPU."""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from sharegrad.train.models import register_train_model


@register_train_model("digits_cnn")
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
