import pytest
import torch

from llmhpo.training.augment import Augmenter, random_crop, random_flip
from llmhpo.training.batches import BatchGroups, DeviceBatches


def generator(seed=0):
    return torch.Generator().manual_seed(seed)


def test_crop_keeps_shape_and_is_a_window_of_the_padded_image():
    images = torch.rand(16, 3, 8, 8)
    crops = random_crop(images, 2, generator())
    assert crops.shape == images.shape
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2), mode="reflect")
    for i in range(16):
        windows = [padded[i, :, r : r + 8, c : c + 8] for r in range(5) for c in range(5)]
        assert any(torch.equal(crops[i], w) for w in windows)
    assert not all(torch.equal(crops[i], images[i]) for i in range(16))  # some actually moved


def test_crop_without_padding_is_identity():
    images = torch.rand(4, 3, 8, 8)
    assert torch.equal(random_crop(images, 0, generator()), images)


def test_flip_mirrors_about_half_the_batch():
    images = torch.rand(400, 1, 2, 3)
    flipped = random_flip(images, generator())
    mirrored = [
        torch.equal(f, i.flip(-1)) and not torch.equal(f, i)
        for f, i in zip(flipped, images, strict=True)
    ]
    unchanged = [torch.equal(f, i) for f, i in zip(flipped, images, strict=True)]
    assert all(m or u for m, u in zip(mirrored, unchanged, strict=True))
    assert 150 < sum(mirrored) < 250


def test_normalisation_and_channels_last():
    augmenter = Augmenter((0.5,) * 3, (0.5,) * 3, torch.device("cpu"), channels_last=True)
    images = torch.full((2, 3, 4, 4), 255, dtype=torch.uint8)
    out = augmenter.eval(images)
    assert torch.allclose(out, torch.ones_like(out))
    assert out.is_contiguous(memory_format=torch.channels_last)


def test_batches_cover_an_epoch_and_repeat_by_seed():
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).repeat(1, 3, 4, 4)
    labels = torch.arange(10)
    augmenter = Augmenter((0.0,) * 3, (1 / 255,) * 3, torch.device("cpu"))
    first = DeviceBatches(images, labels, 3, augmenter, seed=5)
    assert len(first) == 3  # full batches only
    seen = torch.cat([y for _, y in first])
    assert len(seen) == 9 and len(set(seen.tolist())) == 9
    for x, y in first:
        assert torch.equal(x[:, 0, 0, 0].round().long(), y)  # images stay paired with their labels
    again = DeviceBatches(images, labels, 3, augmenter, seed=5)
    assert [y.tolist() for _, y in again] == [
        y.tolist() for _, y in DeviceBatches(images, labels, 3, augmenter, 5)
    ]
    epoch_two = [y.tolist() for _, y in again]
    assert epoch_two != [y.tolist() for _, y in DeviceBatches(images, labels, 3, augmenter, 5)]


def test_groups_hold_the_same_batches_in_order():
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).repeat(1, 3, 4, 4)
    augmenter = Augmenter((0.0,) * 3, (1 / 255,) * 3, torch.device("cpu"))
    single = [y.tolist() for _, y in DeviceBatches(images, torch.arange(10), 2, augmenter, 7)]
    groups = BatchGroups(DeviceBatches(images, torch.arange(10), 2, augmenter, 7), 2)
    assert len(groups) == 3
    grouped = list(groups)
    assert [len(group) for group in grouped] == [2, 2, 1]  # the last group is shorter
    assert [y.tolist() for group in grouped for _, y in group] == single
    with pytest.raises(ValueError, match="at least one batch"):
        BatchGroups(DeviceBatches(images, torch.arange(10), 2, augmenter, 7), 0)
