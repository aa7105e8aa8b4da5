"""Training throughput of one trial, three ways, on the same device in the same run (not a test).

1. llmhpo: `TrainObjective` as a study runs it (Lightning, uint8 data on the device,
   batched crop/flip/normalise, channels_last for conv nets, bf16-mixed on a GPU).
2. hand-written: a minimal PyTorch loop with the same model, the same on-device
   batches and the same precision: the ceiling llmhpo's path is measured against.
3. reference: the reference's pipeline: torchvision's CIFAR10 dataset with per-sample
   PIL transforms, a DataLoader with 0 workers, fp32.

All three read the same synthetic CIFAR-10 copy written in the real pickle format,
and are timed in images per second over the steps after a warm-up, with the device
synchronised at both ends. Ratios are printed against the hand-written loop.

    python scripts/bench_train.py                  # CPU: small sizes, under 2 minutes
    python scripts/bench_train.py --gpu-size       # CUDA: CIFAR-10 size, batch 512
"""

from __future__ import annotations

import argparse
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from llmhpo.objectives.train import TrainObjective
from llmhpo.training.augment import Augmenter
from llmhpo.training.batches import DeviceBatches
from llmhpo.training.data import CIFAR_FOLDER, CIFAR_TRAIN_FILES, load_dataset
from llmhpo.training.models import build_model
from llmhpo.training.schedule import warmup_linear

CONF = Path(__file__).resolve().parents[1] / "conf"
MEAN, STD = [0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]
MODELS = {  # the shipped model configs, so the benchmark measures what a study trains
    name: OmegaConf.to_container(OmegaConf.load(CONF / "model" / f"{name}.yaml"))
    for name in ("resnet9", "vit")
}
CONFIG = {"optimizer": "sgd", "learning_rate": 0.01, "weight_decay": 1e-4, "label_smoothing": 0.0}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def write_synthetic_cifar(root: Path, n_train: int, n_test: int = 100) -> None:
    """Random images in the real `cifar-10-batches-py` format (5 training batches + test)."""
    rng = np.random.default_rng(0)
    folder = root / CIFAR_FOLDER
    folder.mkdir(parents=True)
    per_batch = [n_train // 5 + (i < n_train % 5) for i in range(5)]
    for name, count in [*zip(CIFAR_TRAIN_FILES, per_batch, strict=True), ("test_batch", n_test)]:
        batch = {
            "data": rng.integers(0, 256, (count, 3072), dtype=np.uint8),
            "labels": rng.integers(0, 10, count).tolist(),
        }
        with (folder / name).open("wb") as handle:
            pickle.dump(batch, handle)


class StepTimer(L.Callback):
    """Times the steps after `warmup` inside Lightning's own loop."""

    def __init__(self, warmup: int, device: torch.device):
        self.warmup, self.device = warmup, device
        self.start: float | None = None
        self.steps = 0

    def on_train_batch_start(self, trainer: Any, module: Any, batch: Any, batch_idx: int) -> None:
        if trainer.global_step == self.warmup:
            sync(self.device)
            self.start = time.perf_counter()

    def on_train_batch_end(
        self, trainer: Any, module: Any, outputs: Any, batch: Any, idx: int
    ) -> None:
        if self.start is not None:
            self.steps += 1

    def seconds(self) -> float:
        sync(self.device)
        return time.perf_counter() - self.start


def bench_llmhpo(model_cfg: dict, dataset_cfg: dict, args: argparse.Namespace) -> float:
    device = torch.device(args.device)
    timer = StepTimer(args.warmup, device)
    trainer = {
        "accelerator": "gpu" if device.type == "cuda" else "cpu",
        "max_epochs": args.epochs,
        "enable_progress_bar": False,
    }
    objective = TrainObjective(model_cfg, dataset_cfg, trainer, seed=0, callbacks=[timer])
    objective.evaluate({**CONFIG, "train_batch_size": args.batch_size})
    return timer.steps * args.batch_size / timer.seconds()


def bench_hand_written(model_cfg: dict, dataset_cfg: dict, args: argparse.Namespace) -> float:
    device = torch.device(args.device)
    data = load_dataset(dataset_cfg)
    torch.backends.cudnn.benchmark = device.type == "cuda"  # as llmhpo's Trainer sets it
    torch.manual_seed(0)
    channels_last = model_cfg["channels_last"]
    model = build_model(model_cfg, {}, channels=3, image_size=32, num_classes=10).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    augmenter = Augmenter(
        data.mean, data.std, device, crop_padding=4, flip=True, channels_last=channels_last
    )
    batches = DeviceBatches(
        data.train.images.to(device),
        data.train.labels.to(device),
        args.batch_size,
        augmenter,
        seed=0,
    )
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=CONFIG["learning_rate"],
        momentum=0.0,  # plain SGD, as the reference and llmhpo's default
        weight_decay=CONFIG["weight_decay"],
    )
    total = len(batches) * args.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_linear(total // 5, total))
    use_bf16 = device.type == "cuda"
    model.train()
    step, start = 0, None
    for _ in range(args.epochs):
        for images, labels in batches:
            if step == args.warmup:
                sync(device)
                start = time.perf_counter()
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
    sync(device)
    return (step - args.warmup) * args.batch_size / (time.perf_counter() - start)


def bench_reference(model_cfg: dict, root: Path, args: argparse.Namespace) -> float:
    from torchvision import transforms
    from torchvision.datasets import CIFAR10

    class LocalCIFAR10(CIFAR10):
        """torchvision's reader, minus the checksums (synthetic files have others)."""

        def _check_integrity(self) -> bool:
            return True

        def _load_meta(self) -> None:
            self.classes = [f"class_{i}" for i in range(10)]
            self.class_to_idx = {name: i for i, name in enumerate(self.classes)}

    device = torch.device(args.device)
    transform = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4, padding_mode="reflect"),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(MEAN, STD),
        ]
    )
    dataset = LocalCIFAR10(str(root), train=True, transform=transform, download=False)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=args.batch_size, shuffle=True, num_workers=0, drop_last=True
    )
    torch.manual_seed(0)
    model = build_model(model_cfg, {}, channels=3, image_size=32, num_classes=10).to(device)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=CONFIG["learning_rate"],
        momentum=0.0,
        weight_decay=CONFIG["weight_decay"],
    )
    model.train()
    steps = args.warmup + args.reference_steps
    step, start = 0, None
    while step < steps:
        for images, labels in loader:
            if step == args.warmup:
                sync(device)
                start = time.perf_counter()
            images, labels = images.to(device), labels.to(device)
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            if step == steps:
                break
    sync(device)
    return args.reference_steps * args.batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--gpu-size",
        action="store_true",
        help="CIFAR-10 size (50,000 images), batch 512, 3 epochs, on CUDA",
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--images", type=int, default=768, help="training images to synthesise")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=2, help="steps left out of the timing")
    parser.add_argument("--reference-steps", type=int, default=6)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    if args.gpu_size:
        args.images, args.batch_size, args.epochs = 50_000, 512, 3
        args.warmup, args.reference_steps = 10, 40
    device = torch.device(args.device)
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"CPU ({torch.get_num_threads()} threads)"
    )
    print(
        f"device: {name}; torch {torch.__version__}; {args.images} images, "
        f"batch {args.batch_size}, {args.epochs} epoch(s), warm-up {args.warmup} steps"
    )

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_synthetic_cifar(root, args.images)
        dataset_cfg = {
            "name": "cifar10",
            "root": str(root),
            "download": False,
            "val_size": 100,
            "split_seed": 0,
            "crop_padding": 4,
            "flip": True,
            "mean": MEAN,
            "std": STD,
        }
        print(f"\n{'model':8} {'path':13} {'images/s':>10} {'vs hand-written':>16}")
        for model in args.models:
            cfg = MODELS[model]
            rates = {
                "hand-written": bench_hand_written(cfg, dataset_cfg, args),
                "llmhpo": bench_llmhpo(cfg, dataset_cfg, args),
                "reference": bench_reference(cfg, root, args),
            }
            for path, rate in rates.items():
                print(f"{model:8} {path:13} {rate:10.0f} {rate / rates['hand-written']:15.2f}x")
            print(f"{model:8} llmhpo / reference = {rates['llmhpo'] / rates['reference']:.2f}x")


if __name__ == "__main__":
    main()
