"""Training batches drawn from a split that lives on the training device.

An iterable with a length, which is all Lightning needs from a "dataloader":
each epoch is one seeded permutation, each batch one index into the uint8
tensor followed by the batched augmentation. No workers, no PIL, no copies
from the host per step. `BatchGroups` hands Lightning several of those
batches at a time.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import torch

from llmhpo.training.augment import Augmenter

Batch = tuple[torch.Tensor, torch.Tensor]  # images, labels


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

    def __iter__(self) -> Iterator[Batch]:
        order = torch.randperm(
            len(self.labels), device=self.images.device, generator=self.generator
        )
        for step in range(len(self)):
            index = order[step * self.batch_size : (step + 1) * self.batch_size]
            yield self.augmenter.train(self.images[index], self.generator), self.labels[index]


class BatchGroups:
    """Consecutive batches of `DeviceBatches`, `size` at a time (the last group may be shorter).

    Lightning's loop spends Python time on every batch it hands to `training_step`
    (fetching, hooks, progress bookkeeping): on a fast GPU, where a ResNet-9 step takes
    a few milliseconds, that host time shows in the throughput. One group per call,
    trained batch by batch, pays it once per group instead. The batches, their order
    and their augmentation are those of `DeviceBatches`, so results do not depend on
    `size`.
    """

    def __init__(self, batches: DeviceBatches, size: int):
        if size < 1:
            raise ValueError(f"a group holds at least one batch, got size {size}")
        self.batches, self.size = batches, size

    def __len__(self) -> int:
        return math.ceil(len(self.batches) / self.size)

    def __iter__(self) -> Iterator[list[Batch]]:
        batches = iter(self.batches)
        while group := list(itertools.islice(batches, self.size)):
            yield group
