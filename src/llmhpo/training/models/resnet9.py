"""The ResNet-9 of the reference (MadryLab TRAK's CIFAR-10 ResNet-9), layer for layer.

2,274,880 parameters with 10 classes. The final adaptive max pool makes it work
at any input size from 16 pixels up.
"""

from __future__ import annotations

import torch
from torch import nn


def conv_bn(
    c_in: int, c_out: int, kernel_size: int = 3, stride: int = 1, padding: int = 1
) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class Residual(nn.Module):
    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Scale(nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


class ResNet9(nn.Sequential):
    def __init__(self, channels: int = 3, num_classes: int = 10, image_size: int = 32):
        if image_size < 16:
            raise ValueError(f"ResNet-9 needs images of at least 16 pixels, got {image_size}")
        super().__init__(
            conv_bn(channels, 64),
            conv_bn(64, 128, kernel_size=5, stride=2, padding=2),
            Residual(nn.Sequential(conv_bn(128, 128), conv_bn(128, 128))),
            conv_bn(128, 256),
            nn.MaxPool2d(2),
            Residual(nn.Sequential(conv_bn(256, 256), conv_bn(256, 256))),
            conv_bn(256, 128, padding=0),
            nn.AdaptiveMaxPool2d((1, 1)),
            nn.Flatten(),
            nn.Linear(128, num_classes, bias=False),
            Scale(0.2),
        )
