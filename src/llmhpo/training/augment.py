"""Per-batch augmentation as tensor ops on the training device (no per-sample Python).

The CIFAR-10 recipe of the reference, batched: random crop after reflect
padding, random horizontal flip, then per-channel normalisation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def to_float(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 [B, C, H, W] -> normalised float32."""
    return (images.float().div_(255) - mean) / std


def random_crop(images: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Reflect-pad by `padding`, then cut a random H x W window per image."""
    if padding == 0:
        return images
    batch, _, height, width = images.shape
    padded = F.pad(images, (padding,) * 4, mode="reflect")
    offsets = torch.randint(
        0, 2 * padding + 1, (2, batch), device=images.device, generator=generator
    )
    rows = offsets[0, :, None] + torch.arange(height, device=images.device)  # [B, H]
    cols = offsets[1, :, None] + torch.arange(width, device=images.device)  # [B, W]
    index = torch.arange(batch, device=images.device)[:, None, None]
    crops = padded.permute(0, 2, 3, 1)[index, rows[:, :, None], cols[:, None, :]]  # [B, H, W, C]
    return crops.permute(0, 3, 1, 2)


def random_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    flip = torch.rand(images.shape[0], device=images.device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


class Augmenter:
    """Turns a uint8 batch into a normalised (and, for training, augmented) float batch."""

    def __init__(
        self,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        device: torch.device,
        crop_padding: int = 0,
        flip: bool = False,
        channels_last: bool = False,
    ):
        self.mean = torch.tensor(mean, device=device).view(1, -1, 1, 1)
        self.std = torch.tensor(std, device=device).view(1, -1, 1, 1)
        self.crop_padding = crop_padding
        self.flip = flip
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def train(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        x = to_float(images, self.mean, self.std)
        x = random_crop(x, self.crop_padding, generator)
        if self.flip:
            x = random_flip(x, generator)
        return x.contiguous(memory_format=self.memory_format)

    def eval(self, images: torch.Tensor) -> torch.Tensor:
        return to_float(images, self.mean, self.std).contiguous(memory_format=self.memory_format)
