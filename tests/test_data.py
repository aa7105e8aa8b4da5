import pickle

import numpy as np
import pytest
import torch

from llmhpo.training.data import (
    CIFAR_FOLDER,
    CIFAR_TRAIN_FILES,
    DatasetUnavailableError,
    load_dataset,
)
from tests.conftest import shipped_config

CIFAR_CFG = shipped_config("dataset", "cifar10", download=False, val_size=10)
DIGITS_CFG = shipped_config("dataset", "digits")


def write_cifar_copy(root, per_batch=8, seed=0):
    """A tiny CIFAR-10 in the real python-version format: pickled dicts of uint8 rows."""
    rng = np.random.default_rng(seed)
    folder = root / CIFAR_FOLDER
    folder.mkdir(parents=True)
    for name in (*CIFAR_TRAIN_FILES, "test_batch"):
        batch = {
            "batch_label": f"{name} of 5",
            "labels": rng.integers(0, 10, per_batch).tolist(),
            "data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            "filenames": [f"img_{i}.png" for i in range(per_batch)],
        }
        with (folder / name).open("wb") as handle:
            pickle.dump(batch, handle)
    with (folder / "batches.meta").open("wb") as handle:
        pickle.dump(
            {
                "label_names": [
                    "airplane",
                    "automobile",
                    "bird",
                    "cat",
                    "deer",
                    "dog",
                    "frog",
                    "horse",
                    "ship",
                    "truck",
                ],
                "num_vis": 3072,
            },
            handle,
        )
    return folder


@pytest.fixture
def cifar_root(tmp_path):
    write_cifar_copy(tmp_path)
    return tmp_path


def test_cifar_reads_the_pickle_batches(cifar_root):
    data = load_dataset({**CIFAR_CFG, "root": str(cifar_root)})
    assert len(data.train) == 40 - 10 and len(data.val) == 10 and len(data.test) == 8
    assert data.train.images.dtype == torch.uint8 and data.train.images.shape[1:] == (3, 32, 32)
    assert data.channels == 3 and data.image_size == 32 and data.num_classes == 10
    with (cifar_root / CIFAR_FOLDER / "test_batch").open("rb") as handle:
        raw = pickle.load(handle, encoding="latin1")
    # Row layout: 1024 red, then 1024 green, then 1024 blue values, row-major.
    assert torch.equal(
        data.test.images[3, 1].flatten(), torch.from_numpy(raw["data"][3, 1024:2048])
    )
    assert data.test.labels.tolist() == raw["labels"]


def test_cifar_validation_is_held_out_of_train_and_seeded(cifar_root):
    cfg = {**CIFAR_CFG, "root": str(cifar_root)}
    first = load_dataset(cfg)
    same = load_dataset({**cfg, "download": False})
    other = load_dataset({**cfg, "split_seed": 1})
    assert torch.equal(first.val.images, same.val.images)
    assert not torch.equal(first.val.images, other.val.images)
    train_rows = {bytes(img.numpy()) for img in first.train.images}
    assert not any(bytes(img.numpy()) in train_rows for img in first.val.images)


def test_missing_cifar_names_the_folder_and_files(tmp_path):
    with pytest.raises(DatasetUnavailableError) as caught:
        load_dataset({**CIFAR_CFG, "root": str(tmp_path / "nowhere")})
    message = str(caught.value)
    assert str(tmp_path / "nowhere" / CIFAR_FOLDER) in message
    assert "data_batch_1" in message and "test_batch" in message
    assert "dataset=digits" in message


def test_offline_download_fails_clearly(tmp_path):
    """This machine has no internet: the torchvision download fails and the message says where
    the files must go."""
    with pytest.raises(DatasetUnavailableError) as caught:
        load_dataset({**CIFAR_CFG, "root": str(tmp_path), "download": True})
    assert "the download failed" in str(caught.value)
    assert CIFAR_FOLDER in str(caught.value)


def test_partial_cifar_copy_lists_what_is_missing(cifar_root):
    (cifar_root / CIFAR_FOLDER / "data_batch_3").unlink()
    with pytest.raises(DatasetUnavailableError, match="missing data_batch_3;"):
        load_dataset({**CIFAR_CFG, "root": str(cifar_root)})


def test_digits_splits():
    data = load_dataset(DIGITS_CFG)
    total = len(data.train) + len(data.val) + len(data.test)
    assert total == 1797
    assert len(data.test) == round(1797 * 0.2)
    assert len(data.val) == round((1797 - len(data.test)) * 0.2)
    assert data.train.images.shape[1:] == (3, 16, 16) and data.train.images.dtype == torch.uint8
    # stratified: every class appears in validation in roughly its share
    counts = torch.bincount(data.val.labels, minlength=10)
    assert counts.min() >= 25  # 287 images over 10 classes
    assert torch.equal(
        data.train.images[:, 0], data.train.images[:, 2]
    )  # grey copied to 3 channels


def test_digits_test_split_does_not_move_with_the_validation_seed():
    a = load_dataset(DIGITS_CFG)
    b = load_dataset({**DIGITS_CFG, "split_seed": 1})
    assert torch.equal(a.test.images, b.test.images)
    assert not torch.equal(a.val.images, b.val.images)
