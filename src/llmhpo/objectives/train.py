"""`objective=train`: one trial trains a network from scratch with Lightning.

The tuned value is the validation error (validation is held out of the
training split); the test split is evaluated only when asked: per trial with
`objective.eval_test=true`, or for the study's best configuration at its end
(`test`, which retrains it with the same seed).
"""

from __future__ import annotations

import gc
import inspect
import logging
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from hydra.utils import get_class

from llmhpo.checks import whole_number
from llmhpo.errors import ConfigError
from llmhpo.objectives.base import Evaluation, TaskInfo, tuning_intro
from llmhpo.progress import report
from llmhpo.space import SearchSpace
from llmhpo.training.augment import Augmenter
from llmhpo.training.batches import DeviceBatches
from llmhpo.training.data import ImageDataset, Split, load_dataset
from llmhpo.training.models import ArchitectureError, build_model, model_settings
from llmhpo.training.module import ClassifierModule, OptimSettings, evaluate_split

log = logging.getLogger(__name__)


class TrialOutOfMemoryError(RuntimeError):
    """The accelerator ran out of memory; memory was released and the study goes on."""


class TrainObjective:
    search_space: SearchSpace | None = None  # trains on whatever space the config chooses

    def __init__(
        self,
        model: dict[str, Any],
        dataset: dict[str, Any],
        trainer: dict[str, Any],
        seed: int = 0,
        eval_test: bool = False,
        eval_batch_size: int = 1024,
        sgd_momentum: float = 0.0,
        name: str | None = None,
        callbacks: list[Any] | None = None,
    ):
        """`callbacks`: Lightning callbacks added to every trial's Trainer (profiling, logging)."""
        self.callbacks = list(callbacks or [])
        self.model_cfg, self.dataset_cfg, self.trainer_cfg = model, dataset, trainer
        self.seed = int(seed)
        self.eval_test = eval_test
        self.eval_batch_size = int(eval_batch_size)
        self.sgd_momentum = float(sgd_momentum)
        self.name = name or f"train-{model['name']}-{dataset['name']}"
        self.device = _resolve_device(trainer.get("accelerator", "auto"))
        self.precision = _resolve_precision(trainer.get("precision"), self.device)
        self.batches_per_call = whole_number(  # its one default: conf/trainer/default.yaml
            trainer.get("batches_per_call"), "trainer.batches_per_call", "optimizer steps per call"
        )
        self.epochs = whole_number(
            trainer.get("max_epochs", 20),
            "trainer.max_epochs",
            "0 epochs would record the untrained network's error as each trial's result",
        )
        trainer_class(trainer)  # an unknown trainer.* key fails now, not in every trial
        self._on_device: dict[str, Split] = {}
        # Now, not in each trial: missing data or a model that cannot take it fails the run.
        self._check_architecture(load_dataset(dataset))
        for noisy in ("lightning.pytorch", "lightning.fabric"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        # Lightning's own use of a deprecated torch API; nothing a user can act on.
        warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")

    @property
    def task(self) -> TaskInfo:
        return training_task(self.model_cfg, self.dataset_cfg)

    def _check_architecture(self, data: ImageDataset) -> None:
        """Refuse, before any trial, a model whose own settings cannot take this data
        (`model=vit dataset.image_size=3`). Built on the meta device: no memory, no time.
        Architecture keys a search space tunes are checked per trial, as they come."""
        try:
            with torch.device("meta"):
                build_model(
                    self.model_cfg,
                    {},
                    channels=data.channels,
                    image_size=data.image_size,
                    num_classes=data.num_classes,
                )
        except ArchitectureError as error:
            raise ConfigError(
                f"model={self.model_cfg['name']} cannot train on dataset={self.dataset_cfg['name']}"
                f" at image size {data.image_size}: {error}"
            ) from None

    @property
    def data(self) -> ImageDataset:
        return load_dataset(self.dataset_cfg)

    def evaluate(self, config: dict[str, Any]) -> Evaluation:
        splits = ("val", "test") if self.eval_test else ("val",)
        metrics = self._train_and_measure(config, splits)
        return Evaluation(metrics["val_error"], metrics)

    def test(self, config: dict[str, Any]) -> dict[str, Any]:
        """Retrain `config` with the trial seed and measure it on the test split."""
        return self._train_and_measure(config, ("test",))

    def _train_and_measure(self, config: dict[str, Any], splits: tuple[str, ...]) -> dict[str, Any]:
        try:
            return self._train(config, splits)
        except torch.OutOfMemoryError:
            pass  # leave the except block first, so the traceback's tensors can be freed
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        raise TrialOutOfMemoryError(
            f"CUDA out of memory training {self.model_cfg['name']} with "
            f"train_batch_size={config.get('train_batch_size')}; memory was released and the study "
            "goes on. Smaller batches or a smaller architecture fit."
        )

    def _train(self, config: dict[str, Any], splits: tuple[str, ...]) -> dict[str, Any]:
        data = self.data
        optim = OptimSettings.from_config(config, self.sgd_momentum)
        L.seed_everything(self.seed, verbose=False)
        model = build_model(  # an impossible architecture is refused here, before training
            self.model_cfg,
            config,
            channels=data.channels,
            image_size=data.image_size,
            num_classes=data.num_classes,
        )
        channels_last = bool(self.model_cfg.get("channels_last", False))
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        augmenter = Augmenter(
            data.mean,
            data.std,
            self.device,
            crop_padding=int(self.dataset_cfg.get("crop_padding", 0)),
            flip=bool(self.dataset_cfg.get("flip", False)),
            channels_last=channels_last,
        )
        train = self._device_split("train")
        batches = DeviceBatches(
            train.images,
            train.labels,
            int(config.get("train_batch_size", 512)),
            augmenter,
            self.seed,
        )
        module = ClassifierModule(
            model,
            optim,
            self.epochs,
            batches,
            divergence_check_every(self.device),
            self.batches_per_call,
        )
        autocast = _autocast(self.precision)

        def measure(split: str) -> dict[str, float]:
            part = self._device_split(split)
            return evaluate_split(
                model, part.images, part.labels, augmenter.eval, self.eval_batch_size, autocast
            )

        # The validation curve, where the validation error is measured at all (not when the
        # best configuration is retrained for its test error).
        reporter = EpochReporter(lambda: measure("val")) if "val" in splits else None
        callbacks = [*self.callbacks, *([reporter] if reporter is not None else [])]
        trainer = build_trainer(
            self.trainer_cfg, self.device, self.precision, self.epochs, callbacks
        )
        started = time.perf_counter()
        trainer.fit(module)
        train_seconds = time.perf_counter() - started
        model = model.to(self.device)  # Lightning's teardown moves the model back to the CPU
        metrics: dict[str, Any] = {
            "train_seconds": train_seconds,
            "images_per_second": len(batches)
            * batches.batch_size
            * self.epochs
            / max(train_seconds, 1e-9),
            "epochs": self.epochs,
            "train_loss": float(module.last_loss) if module.last_loss is not None else None,
            "params": sum(p.numel() for p in model.parameters()),
            "model_settings": model_settings(self.model_cfg, config),
        }
        for split in splits:
            # The last epoch's validation is the trained model's: measured once, not again.
            result = reporter.last if split == "val" and reporter is not None else measure(split)
            metrics.update({f"{split}_{key}": value for key, value in result.items()})
        return metrics

    def _device_split(self, split: str) -> Split:
        """The split on the training device, copied there once per study."""
        if split not in self._on_device:
            part: Split = getattr(self.data, split)
            self._on_device[split] = Split(part.images.to(self.device), part.labels.to(self.device))
        return self._on_device[split]


def _autocast(precision: str) -> torch.dtype | None:
    return {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(precision)


class EpochReporter(L.Callback):
    """Reports the validation error after each epoch (`progress.report`, step = epochs done):
    the trial's curve in the trial log, and what a pruner judges it by. `last` keeps the last
    epoch's whole measurement (error, loss, accuracy): the trained model's validation."""

    def __init__(self, validation: Callable[[], dict[str, float]]):
        self.validation = validation
        self.last: dict[str, float] = {}

    def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
        self.last = self.validation()
        module.train()  # evaluate_split leaves the model in eval mode
        report(trainer.current_epoch + 1, self.last["error"])


def divergence_check_every(device: torch.device) -> int:
    """Steps between looks at the loss: on a GPU each look stalls the pipeline."""
    return 1 if device.type == "cpu" else 50


# The keys of conf/trainer/*.yaml that llmhpo reads itself; every other key goes to the Trainer.
OWN_TRAINER_KEYS = ("_target_", "batches_per_call", "accelerator", "precision")
LIGHTNING_TRAINER = "lightning.pytorch.Trainer"


def trainer_class(trainer_cfg: dict[str, Any]) -> type:
    """The class the trainer node names (`_target_`), once every key of the node is known to
    llmhpo or to it: an unknown key would otherwise fail every trial, or be silently ignored,
    so it is refused before any trial."""
    target = get_class(trainer_cfg.get("_target_", LIGHTNING_TRAINER))
    known = set(inspect.signature(target).parameters)
    unknown = sorted(set(trainer_cfg) - set(OWN_TRAINER_KEYS) - known)
    if unknown:
        raise ConfigError(
            f"trainer.{unknown[0]} is not a setting of llmhpo's trainer config nor of "
            f"{target.__name__} (unknown: {unknown}); see conf/trainer/default.yaml"
        )
    return target


def build_trainer(
    trainer_cfg: dict[str, Any],
    device: torch.device,
    precision: str,
    epochs: int,
    callbacks: list[Any],
) -> Any:
    """A trial's Trainer, from its config node (`_target_`): every key of the node reaches it,
    with the device and precision resolved and nothing per step that a study does not need."""
    settings = {k: v for k, v in trainer_cfg.items() if k not in OWN_TRAINER_KEYS}
    progress = settings.pop("enable_progress_bar", None)
    deterministic = bool(settings.pop("deterministic", False))
    return trainer_class(trainer_cfg)(
        **{
            "devices": 1,
            "logger": False,
            "enable_checkpointing": False,
            "enable_model_summary": False,
            "num_sanity_val_steps": 0,
            **settings,
            "accelerator": device.type if device.type != "cuda" else "gpu",
            "precision": precision,
            "max_epochs": epochs,
            "enable_progress_bar": sys.stderr.isatty() if progress is None else bool(progress),
            "deterministic": deterministic,
            "benchmark": device.type == "cuda" and not deterministic,  # cuDNN autotuning
            "callbacks": list(callbacks),
        }
    )


def training_task(model_cfg: dict[str, Any], dataset_cfg: dict[str, Any]) -> TaskInfo:
    """The reference's wording, with the network and the data named by their configs."""
    model = model_cfg.get("description") or "a neural network"
    dataset = dataset_cfg.get("description")
    subject = f"{model} trained for {dataset}" if dataset else model
    return TaskInfo(
        intro=tuning_intro(subject),
        feedback=(("Error Rate", "val_error"), ("Loss", "val_loss")),
        feedback_phrase="validation error rate and loss",
        goal_phrase="error rate",
        worst_value=1.0,  # an error rate
        best_value=0.0,
        step_name="epoch",
    )


def _resolve_device(accelerator: str) -> torch.device:
    if accelerator in ("auto", None):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if accelerator in ("gpu", "cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(
                "trainer.accelerator=gpu, but no CUDA GPU is visible; use trainer.accelerator=cpu"
                " (or auto, which takes a GPU where there is one)"
            )
        return torch.device("cuda")
    if accelerator == "cpu":
        return torch.device("cpu")
    raise ConfigError(f"trainer.accelerator must be auto, gpu or cpu, got {accelerator!r}")


def _resolve_precision(precision: str | None, device: torch.device) -> str:
    """bf16-mixed on a GPU that has it, 32-bit otherwise, unless the config says."""
    if precision:
        return str(precision)
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "32-true"
