import pickle

import numpy as np
import pytest
import torch

from llmhpo.training.data import (
    CIFAR_FOLDER,
    DatasetFormatError,
    DatasetUnavailableError,
    load_dataset,
)
from tests.helpers.data import CIFAR_CFG, DIGITS_CFG, write_cifar_copy
from tests.helpers.servers import free_port


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


def test_cifar_written_by_a_newer_pickle_protocol_reads_too(tmp_path):
    write_cifar_copy(tmp_path, protocol=pickle.HIGHEST_PROTOCOL)
    data = load_dataset({**CIFAR_CFG, "root": str(tmp_path)})
    assert len(data.test) == 8 and data.test.images.dtype == torch.uint8


class RunsACommand:
    """What a crafted pickle does: call any function on load (here, one that writes a file)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_crafted_cifar_file_cannot_run_code(cifar_root, tmp_path):
    marker = tmp_path / "the-pickle-ran-code"
    batch = {"data": np.zeros((1, 3072), dtype=np.uint8), "labels": [RunsACommand(marker)]}
    (cifar_root / CIFAR_FOLDER / "data_batch_2").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(DatasetFormatError) as caught:
        load_dataset({**CIFAR_CFG, "root": str(cifar_root)})
    assert not marker.exists()
    message = str(caught.value)
    assert "data_batch_2 is not a CIFAR-10 batch" in message and "io.open" in message


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


def test_a_failed_download_fails_clearly(tmp_path, monkeypatch):
    """Offline made explicit, whether or not this machine reaches the internet: torchvision is
    sent to a port on 127.0.0.1 where nothing listens, so no 170 MB download can start, and
    the message says where the files must go."""
    from torchvision.datasets import CIFAR10

    monkeypatch.setattr(CIFAR10, "url", f"http://127.0.0.1:{free_port()}/cifar-10-python.tar.gz")
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
