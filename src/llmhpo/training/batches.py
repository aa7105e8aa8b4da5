"""Training batches drawn from a split that lives on the training device.

An iterable with a length, which is all Lightning needs from a "dataloader":
each epoch is one seeded permutation, each batch one index into the uint8
tensor followed by the batched augmentation. No workers, no PIL, no copies
from the host per step.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from llmhpo.training.augment import Augmenter


class DeviceBatches:
    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        augmenter: Augmenter,
        seed: int,
    ):
        if batch_size < 1:
            raise ValueError(f"train_batch_size must be >= 1, got {batch_size}")
        self.images, self.labels = images, labels
        self.batch_size = min(batch_size, len(labels))
        self.augmenter = augmenter
        self.generator = torch.Generator(device=images.device).manual_seed(seed)

    def __len__(self) -> int:
        """Full batches only: a last batch of one image would break BatchNorm."""
        return len(self.labels) // self.batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(
            len(self.labels), device=self.images.device, generator=self.generator
        )
        for step in range(len(self)):
            index = order[step * self.batch_size : (step + 1) * self.batch_size]
            yield self.augmenter.train(self.images[index], self.generator), self.labels[index]
