"""The DLG repository's LeNet (mit-han-lab/dlg, models/vision.py).

Three 5x5 convolutions 3 -> 12 -> 12 -> 12 with strides 2, 2, 1 and padding 2,
each followed by a sigmoid (twice differentiable, as DLG needs), then one
linear layer; every weight and bias drawn from uniform(-0.5, 0.5).
"""

from __future__ import annotations

from torch import nn

from sharegrad.models import register_model


class LeNet(nn.Module):
    def __init__(self, num_classes: int = 100, in_channels: int = 3, image_size: int = 32):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, 12, kernel_size=5, padding=2, stride=2), nn.Sigmoid(),
            nn.Conv2d(12, 12, kernel_size=5, padding=2, stride=2), nn.Sigmoid(),
            nn.Conv2d(12, 12, kernel_size=5, padding=2, stride=1), nn.Sigmoid(),
        )
        side = (image_size + 3) // 4
        self.fc = nn.Linear(12 * side * side, num_classes)
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.uniform_(module.weight, -0.5, 0.5)
                nn.init.uniform_(module.bias, -0.5, 0.5)

    head = "fc"  # forward(x) == fc(features(x)); the batched engine factors fc's gradient (engine/evaluator.py)

    def features(self, x):
        return self.body(x).flatten(1)

    def forward(self, x):
        return self.fc(self.features(x))


@register_model("lenet")
def lenet(num_classes: int = 100, **options) -> nn.Module:
    return LeNet(num_classes=num_classes, **options)
