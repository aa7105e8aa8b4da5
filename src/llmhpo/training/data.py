"""Datasets as uint8 tensors, read once: CIFAR-10 (real pickle batches) and digits.

A dataset is three splits of (images uint8 [N, C, H, W], labels int64 [N]).
Validation is held out of the training split (seeded), so tuning never looks
at the test split; the test split is only for reporting.
"""

from __future__ import annotations

import functools
import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from llmhpo.errors import ConfigError

CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_FILES = (*CIFAR_TRAIN_FILES, "test_batch")


class DatasetUnavailableError(ConfigError):
    """The data is not on disk and could not be downloaded."""


class DatasetFormatError(RuntimeError):
    """A dataset file is on disk but is not in the format it should be (or is unsafe to read)."""


@dataclass(frozen=True)
class Split:
    images: torch.Tensor  # uint8 [N, C, H, W]
    labels: torch.Tensor  # int64 [N]

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class ImageDataset:
    name: str
    train: Split
    val: Split
    test: Split
    num_classes: int
    mean: tuple[float, ...]  # per channel, on the 0..1 scale
    std: tuple[float, ...]

    @property
    def channels(self) -> int:
        return int(self.train.images.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.train.images.shape[-1])


def load_dataset(cfg: dict[str, Any]) -> ImageDataset:
    """Load (once per process and settings) the dataset a `dataset` config names."""
    return _load_cached(json.dumps(cfg, sort_keys=True))


@functools.lru_cache(maxsize=4)
def _load_cached(cfg_json: str) -> ImageDataset:
    cfg = json.loads(cfg_json)
    loaders = {"cifar10": _load_cifar10, "digits": _load_digits}
    if cfg.get("name") not in loaders:
        raise ConfigError(
            f"unknown dataset {cfg.get('name')!r}; choose dataset= from {sorted(loaders)}"
        )
    return loaders[cfg["name"]](cfg)


def _split_off(
    images: torch.Tensor, labels: torch.Tensor, size: int, seed: int, stratify: bool
) -> tuple[Split, Split]:
    """Hold out `size` examples (stratified by label if asked), seeded."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(labels))
    keep, held = train_test_split(
        index, test_size=size, random_state=seed, stratify=labels.numpy() if stratify else None
    )
    keep, held = torch.from_numpy(np.sort(keep)), torch.from_numpy(np.sort(held))
    return Split(images[keep], labels[keep]), Split(images[held], labels[held])


def _channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    scaled = images.float() / 255
    return tuple(scaled.mean(dim=(0, 2, 3)).tolist()), tuple(scaled.std(dim=(0, 2, 3)).tolist())


# --- CIFAR-10 -----------------------------------------------------------------------------------


def _load_cifar10(cfg: dict[str, Any]) -> ImageDataset:
    folder = Path(cfg["root"]).expanduser() / CIFAR_FOLDER
    missing = [name for name in CIFAR_FILES if not (folder / name).is_file()]
    if missing and cfg.get("download", True):
        _download_cifar10(Path(cfg["root"]).expanduser())
        missing = [name for name in CIFAR_FILES if not (folder / name).is_file()]
    if missing:
        raise DatasetUnavailableError(
            _missing_cifar_message(folder, missing, cfg.get("download", True))
        )
    train_images, train_labels = _read_cifar_batches(folder, CIFAR_TRAIN_FILES)
    test_images, test_labels = _read_cifar_batches(folder, ("test_batch",))
    train, val = _split_off(
        train_images, train_labels, int(cfg["val_size"]), int(cfg["split_seed"]), False
    )
    return ImageDataset(
        "cifar10",
        train,
        val,
        Split(test_images, test_labels),
        num_classes=10,
        mean=tuple(cfg["mean"]),
        std=tuple(cfg["std"]),
    )


# What CIFAR-10's pickles (written by Python 2 with numpy, or rewritten by Python 3) may name
# besides plain dicts, lists, strings and numbers: numpy's array reconstruction, nothing else.
_CIFAR_PICKLE_GLOBALS = {
    (module, name)
    for module in ("numpy.core.multiarray", "numpy._core.multiarray")
    for name in ("_reconstruct", "scalar")
} | {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),  # how Python 3 pickles bytes at protocol 2
}


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles only what the CIFAR-10 format needs, so a crafted file cannot run code."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _CIFAR_PICKLE_GLOBALS:
            raise pickle.UnpicklingError(
                f"it refers to {module}.{name}, which a CIFAR-10 batch never holds"
            )
        return super().find_class(module, name)


def _read_cifar_batches(folder: Path, names: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = [], []
    for name in names:
        path = folder / name
        try:
            with path.open("rb") as handle:
                batch = _CifarUnpickler(handle, encoding="latin1").load()
            data = np.asarray(batch["data"], dtype=np.uint8)
            images.append(data.reshape(-1, 3, 32, 32))
            labels.append(np.asarray(batch["labels"], dtype=np.int64))
        except Exception as error:  # whatever is wrong with the file, say which file it is
            raise DatasetFormatError(
                f"{path} is not a CIFAR-10 batch in the python format ({type(error).__name__}: "
                f"{error}); replace the folder with the original cifar-10-batches-py from "
                "https://www.cs.toronto.edu/~kriz/cifar.html"
            ) from error
    return torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels))


def _download_cifar10(root: Path) -> None:
    try:
        from torchvision.datasets import CIFAR10

        CIFAR10(str(root), train=True, download=True)
    except Exception as error:  # any network failure means: no data, say where it must go
        raise DatasetUnavailableError(
            _missing_cifar_message(root / CIFAR_FOLDER, list(CIFAR_FILES), True)
            + f" (the download failed: {type(error).__name__}: {error})"
        ) from error


def _missing_cifar_message(folder: Path, missing: list[str], tried_download: bool) -> str:
    how = "the download did not work (offline?)" if tried_download else "dataset.download=false"
    return (
        f"CIFAR-10 is not in {folder.resolve()}: missing {', '.join(missing)}; {how}. "
        f"Put the python-version batches there ({CIFAR_FOLDER}/data_batch_1..5 and test_batch, "
        "from cifar-10-python.tar.gz), point dataset.root at the folder that holds "
        f"{CIFAR_FOLDER}/, or use dataset=digits to run offline."
    )


# --- digits -------------------------------------------------------------------------------------


def _load_digits(cfg: dict[str, Any]) -> ImageDataset:
    """scikit-learn's bundled 8x8 digits, upsampled to `image_size` and copied to 3 channels.

    Test: `test_fraction` of all images, held out with a fixed seed so it never
    changes; validation: `val_fraction` of the rest, stratified, `split_seed`.
    """
    import torch.nn.functional as F
    from sklearn.datasets import load_digits

    digits = load_digits()
    size = int(cfg["image_size"])
    pixels = torch.from_numpy(digits.images).float().unsqueeze(1) / 16.0  # [N, 1, 8, 8] in 0..1
    pixels = F.interpolate(pixels, size=(size, size), mode="bilinear", align_corners=False)
    images = (pixels.clamp(0, 1) * 255).round().to(torch.uint8).repeat(1, 3, 1, 1)
    labels = torch.from_numpy(digits.target.astype(np.int64))
    n_test = round(len(labels) * float(cfg["test_fraction"]))
    rest, test = _split_off(images, labels, n_test, 0, stratify=True)
    n_val = round(len(rest) * float(cfg["val_fraction"]))
    train, val = _split_off(rest.images, rest.labels, n_val, int(cfg["split_seed"]), stratify=True)
    mean, std = _channel_stats(train.images)
    return ImageDataset("digits", train, val, test, num_classes=10, mean=mean, std=std)
