"""Training throughput of one trial, three ways, on the same device in the same run (not a test).

1. llmhpo: `TrainObjective` as a study runs it (Lightning, uint8 data on the device,
   batched crop/flip/normalise, channels_last for conv nets, bf16-mixed on a GPU).
2. hand-written: a minimal PyTorch loop with the same model, the same on-device
   batches and the same precision: the ceiling llmhpo's path is measured against.
3. reference: the reference's pipeline: torchvision's CIFAR10 dataset with per-sample
   PIL transforms, a DataLoader with 0 workers, fp32.

All three read the same synthetic CIFAR-10 copy written in the real pickle format,
and are timed in images per second over the training steps after a warm-up, with the
device synchronised at both ends (llmhpo's evaluation after training is not timed, as
the other two have none). llmhpo runs once per `--batches-per-call` value (optimizer
steps per call of Lightning's training_step). Each path runs `--repeats` times,
alternating, and the median is printed with its ratio to the hand-written loop.

Last, the host time per step that Lightning adds: llmhpo's LightningModule and Trainer
settings against the hand-written loop, both with a model too small to compute
anything, on the same device. That is the time a fast GPU leaves visible.

    python scripts/bench_train.py                  # CPU: small sizes, about 2 minutes
    python scripts/bench_train.py --gpu-size       # CUDA: CIFAR-10 size, batch 512
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch import nn

from llmhpo.objectives.train import (
    TrainObjective,
    build_trainer,
    divergence_check_every,
)
from llmhpo.training.augment import Augmenter
from llmhpo.training.batches import DeviceBatches
from llmhpo.training.data import CIFAR_FOLDER, CIFAR_TRAIN_FILES, load_dataset
from llmhpo.training.models import build_model
from llmhpo.training.module import ClassifierModule, OptimSettings
from llmhpo.training.schedule import warmup_linear

CONF = Path(__file__).resolve().parents[1] / "src" / "llmhpo" / "conf"


def shipped(group: str, name: str) -> dict[str, Any]:
    """`conf/GROUP/NAME.yaml`: the benchmark measures what a study runs."""
    return OmegaConf.to_container(OmegaConf.load(CONF / group / f"{name}.yaml"))


MODELS = {name: shipped("model", name) for name in ("resnet9", "vit")}
TRAINER = shipped("trainer", "default")
CIFAR10 = shipped("dataset", "cifar10")
MEAN, STD = CIFAR10["mean"], CIFAR10["std"]
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
    """Times the optimizer steps after `warmup` inside Lightning's own loop, up to the
    end of training (not the teardown or evaluation that follow it)."""

    def __init__(self, warmup: int, device: torch.device):
        self.warmup, self.device = warmup, device
        self.start: float | None = None
        self.first_step = 0
        self.steps = 0
        self.seconds = 0.0

    def on_train_batch_start(self, trainer: Any, module: Any, batch: Any, batch_idx: int) -> None:
        if self.start is None and trainer.global_step >= self.warmup:
            sync(self.device)
            self.start, self.first_step = time.perf_counter(), trainer.global_step

    def on_train_end(self, trainer: Any, module: Any) -> None:
        if self.start is None:  # training ended before a call began at or after the warm-up
            return
        sync(self.device)
        self.seconds = time.perf_counter() - self.start
        self.steps = trainer.global_step - self.first_step

    def seconds_per_step(self) -> float:
        if self.steps == 0:
            raise SystemExit(
                f"no optimizer step was timed: llmhpo's clock starts at the first call of "
                f"training_step at or after step {self.warmup}, and training ended before one; "
                "give it more steps (--images, --epochs) or fewer --batches-per-call"
            )
        return self.seconds / self.steps


def bench_llmhpo(
    model_cfg: dict, dataset_cfg: dict, args: argparse.Namespace, batches_per_call: int
) -> float:
    device = torch.device(args.device)
    timer = StepTimer(args.warmup, device)
    trainer = {
        **TRAINER,
        "accelerator": "gpu" if device.type == "cuda" else "cpu",
        "max_epochs": args.epochs,
        "enable_progress_bar": False,
        "batches_per_call": batches_per_call,
    }
    objective = TrainObjective(model_cfg, dataset_cfg, trainer, seed=0, callbacks=[timer])
    objective.evaluate({**CONFIG, "train_batch_size": args.batch_size})
    return args.batch_size / timer.seconds_per_step()


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
    return args.batch_size / seconds_per_step_by_hand(model, batches, args.epochs, args.warmup)


def seconds_per_step_by_hand(
    model: nn.Module, batches: DeviceBatches, epochs: int, warmup: int
) -> float:
    """The minimal loop: plain SGD (the reference's and llmhpo's default), the same
    schedule, bf16 autocast on a GPU; seconds per step after `warmup` steps."""
    device = batches.images.device
    optimizer = torch.optim.SGD(
        model.parameters(), lr=CONFIG["learning_rate"], weight_decay=CONFIG["weight_decay"]
    )
    total = len(batches) * epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_linear(total // 5, total))
    use_bf16 = device.type == "cuda"
    model.train()
    step, start = 0, time.perf_counter()
    for _ in range(epochs):
        for images, labels in batches:
            if step == warmup:
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
    if step <= warmup:
        raise SystemExit(
            f"no step was timed: {step} steps in all, warm-up {warmup}; give it more steps"
        )
    return (time.perf_counter() - start) / (step - warmup)


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


HOST_EPOCHS, HOST_WARMUP = 8, 16  # 1,024 steps of 8 images, the first 16 not timed


def tiny_setup(device: torch.device) -> tuple[nn.Module, DeviceBatches]:
    """A linear model on 4 x 4 images: its arithmetic is nothing, so a step is host time."""
    torch.manual_seed(0)
    images = torch.randint(0, 256, (1024, 3, 4, 4), dtype=torch.uint8, device=device)
    labels = torch.randint(0, 10, (len(images),), device=device)
    augmenter = Augmenter(MEAN, STD, device, crop_padding=1, flip=True)
    model = nn.Sequential(nn.Flatten(), nn.Linear(48, 10)).to(device)
    return model, DeviceBatches(images, labels, 8, augmenter, seed=0)


def host_seconds_by_hand(device: torch.device) -> float:
    return seconds_per_step_by_hand(*tiny_setup(device), HOST_EPOCHS, HOST_WARMUP)


def host_seconds_llmhpo(device: torch.device, batches_per_call: int) -> float:
    """llmhpo's LightningModule under a Trainer with a trial's settings."""
    model, batches = tiny_setup(device)
    optim = OptimSettings.from_config(CONFIG, default_momentum=0.0)
    check_every = divergence_check_every(device)
    module = ClassifierModule(model, optim, HOST_EPOCHS, batches, check_every, batches_per_call)
    precision = "bf16-mixed" if device.type == "cuda" else "32-true"
    timer = StepTimer(HOST_WARMUP, device)
    settings = {**TRAINER, "enable_progress_bar": False}
    trainer = build_trainer(settings, device, precision, HOST_EPOCHS, [timer])
    trainer.fit(module)
    return timer.seconds_per_step()


def report_host_overhead(args: argparse.Namespace) -> None:
    device = torch.device(args.device)
    print(f"\nhost time per optimizer step, tiny model on {device.type} (microseconds):")
    hand = median_of(args.repeats, lambda: host_seconds_by_hand(device))
    print(f"  hand-written loop        {hand * 1e6:8.1f}")
    for per_call in args.batches_per_call:
        llmhpo = median_of(args.repeats, lambda k=per_call: host_seconds_llmhpo(device, k))
        print(
            f"  llmhpo, {per_call:2d} per call      {llmhpo * 1e6:8.1f}"
            f"   Lightning adds {(llmhpo - hand) * 1e6:6.1f}"
        )


def median_of(repeats: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(repeats))


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
    parser.add_argument(
        "--batches-per-call",
        type=int,
        nargs="+",
        default=sorted({1, TRAINER["batches_per_call"]}),
        help="llmhpo's trainer.batches_per_call values to measure (default: 1 and the shipped)",
    )
    parser.add_argument("--repeats", type=int, default=1, help="runs per path; the median counts")
    args = parser.parse_args()
    if args.gpu_size:
        args.images, args.batch_size, args.epochs = 50_000, 512, 3
        args.warmup, args.reference_steps, args.repeats = 10, 40, 3
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
        dataset_cfg = {**CIFAR10, "root": str(root), "download": False, "val_size": 100}
        print(f"\n{'model':8} {'path':20} {'images/s':>10} {'vs hand-written':>16}")
        for model in args.models:
            cfg = MODELS[model]
            measures: dict[str, Callable[[], float]] = {
                "hand-written": lambda cfg=cfg: bench_hand_written(cfg, dataset_cfg, args),
            }
            for per_call in args.batches_per_call:
                measures[f"llmhpo, {per_call} per call"] = lambda cfg=cfg, k=per_call: bench_llmhpo(
                    cfg, dataset_cfg, args, k
                )
            runs: dict[str, list[float]] = {path: [] for path in measures}
            for _ in range(args.repeats):  # alternating, so drifts of the device hit all paths
                for path, measure in measures.items():
                    runs[path].append(measure())
            rates = {path: statistics.median(values) for path, values in runs.items()}
            rates["reference"] = bench_reference(cfg, root, args)
            for path, rate in rates.items():
                print(f"{model:8} {path:20} {rate:10.0f} {rate / rates['hand-written']:15.2f}x")
            for path in measures:
                if path.startswith("llmhpo"):
                    print(f"{model:8} {path} / reference = {rates[path] / rates['reference']:.2f}x")
    report_host_overhead(args)


if __name__ == "__main__":
    main()
