"""Data in the real formats, written small: a CIFAR-10 copy, and the shipped dataset configs."""

import pickle

import numpy as np

from llmhpo.training.data import CIFAR_FOLDER, CIFAR_TRAIN_FILES
from tests.helpers.config import shipped_config

CIFAR_CFG = shipped_config("dataset", "cifar10", download=False, val_size=10)
DIGITS_CFG = shipped_config("dataset", "digits")


def write_cifar_copy(root, per_batch=8, seed=0, protocol=2):
    """A tiny CIFAR-10 in the real python-version format: pickled dicts of uint8 rows (at
    protocol 2 by default, as the originals, which Python 2 wrote)."""
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
            pickle.dump(batch, handle, protocol=protocol)
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
