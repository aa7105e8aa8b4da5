"""The LightningModule of one trial: the tuned optimiser, loss and LR schedule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from llmhpo.training.batches import Batch, BatchGroups, DeviceBatches
from llmhpo.training.schedule import warmup_linear


class TrialDivergedError(RuntimeError):
    """The training loss became NaN or infinite; the trial stops at once."""


@dataclass(frozen=True)
class OptimSettings:
    """What the tuner controls about optimisation (the paper's constrained space)."""

    optimizer: str
    learning_rate: float
    weight_decay: float
    label_smoothing: float
    momentum: float
    nesterov: bool

    @classmethod
    def from_config(cls, config: dict[str, Any], default_momentum: float) -> OptimSettings:
        optimizer = str(config.get("optimizer", "sgd")).lower()
        if optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
        return cls(
            optimizer=optimizer,
            learning_rate=float(config["learning_rate"]),
            weight_decay=float(config.get("weight_decay", 0.0)),
            label_smoothing=float(config.get("label_smoothing", 0.0)),
            momentum=float(config.get("momentum", default_momentum)),
            nesterov=bool(config.get("nesterov", False)),
        )


class DivergenceGuard:
    """Notices a NaN or infinite loss without a host-device sync every step.

    Each step's loss is only kept (no kernel launched, nothing copied); the host
    looks at the kept losses every `check_every` steps (1 on the CPU, where looking
    is free) and at the end of each epoch, then stops the trial naming the first
    bad step.
    """

    def __init__(self, check_every: int):
        self.check_every = max(1, check_every)
        self.first_step = 0
        self.losses: list[torch.Tensor] = []
        self.last_loss: torch.Tensor | None = None

    def observe(self, loss: torch.Tensor, step: int) -> None:
        if not self.losses:
            self.first_step = step
        self.last_loss = loss.detach()
        self.losses.append(self.last_loss)
        if len(self.losses) >= self.check_every:
            self.check()

    def check(self) -> None:
        if not self.losses:
            return
        bad = ~torch.isfinite(torch.stack(self.losses))
        self.losses = []
        if bool(bad.any()):
            step = self.first_step + int(bad.nonzero()[0, 0])
            raise TrialDivergedError(f"loss diverged at step {step}")


class ClassifierModule(L.LightningModule):
    """Trains `model` on `batches`, `batches_per_call` optimizer steps per `training_step`.

    Manual optimisation: one backward and one step per batch needs none of automatic
    optimisation's closure and hooks, and lets one call train a whole `BatchGroups`
    group, so Lightning's per-call Python work is paid once per group. Lightning still
    counts every optimizer step (`global_step`), and the schedule runs per step.
    """

    def __init__(
        self,
        model: nn.Module,
        optim: OptimSettings,
        epochs: int,
        batches: DeviceBatches,
        divergence_check_every: int = 1,
        batches_per_call: int = 1,
    ):
        super().__init__()
        self.automatic_optimization = False
        self.model = model
        self.optim = optim
        self.epochs = epochs
        self.batches = batches
        self.groups = BatchGroups(batches, batches_per_call)
        self.guard = DivergenceGuard(divergence_check_every)

    @property
    def last_loss(self) -> torch.Tensor | None:
        """The loss of the last step trained (on the device; reading it syncs)."""
        return self.guard.last_loss

    def train_dataloader(self) -> BatchGroups:
        return self.groups

    def transfer_batch_to_device(self, batch: list[Batch], device: Any, idx: int) -> list[Batch]:
        """The batches are made on the training device already; nothing to walk or move."""
        return batch

    def training_step(self, group: list[Batch], group_idx: int) -> None:
        # Kept out of self.log: Lightning moves logged values to the CPU after every
        # call, a host-device sync that stalls a fast GPU.
        optimizer, scheduler = self.optimizers(), self.lr_schedulers()
        for images, labels in group:
            loss = F.cross_entropy(
                self.model(images), labels, label_smoothing=self.optim.label_smoothing
            )
            step = self.global_step
            optimizer.zero_grad(set_to_none=True)
            self.manual_backward(loss)
            optimizer.step()
            scheduler.step()
            self.guard.observe(loss, step)

    def on_train_epoch_end(self) -> None:
        self.guard.check()

    def configure_optimizers(self) -> dict[str, Any]:
        o = self.optim
        if o.optimizer == "adam":
            optimizer = torch.optim.Adam(
                self.parameters(), lr=o.learning_rate, weight_decay=o.weight_decay
            )
        else:
            optimizer = torch.optim.SGD(
                self.parameters(),
                lr=o.learning_rate,
                momentum=o.momentum,
                nesterov=o.nesterov and o.momentum > 0,
                weight_decay=o.weight_decay,
            )
        # In optimizer steps, not Lightning batches (a group is several steps).
        per_epoch = len(self.batches)
        schedule = warmup_linear((self.epochs // 5) * per_epoch, self.epochs * per_epoch)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }


@torch.no_grad()
def evaluate_split(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    to_input: Any,
    batch_size: int,
    autocast_dtype: torch.dtype | None,
) -> dict[str, float]:
    """Error rate and mean cross-entropy of `model` on a device-resident split."""
    model.eval()
    device = images.device
    total_loss = torch.zeros((), device=device, dtype=torch.float64)
    wrong = torch.zeros((), device=device, dtype=torch.int64)
    for start in range(0, len(labels), batch_size):
        x = to_input(images[start : start + batch_size])
        y = labels[start : start + batch_size]
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            logits = model(x)
        total_loss += F.cross_entropy(logits.float(), y, reduction="sum").double()
        wrong += (logits.argmax(dim=1) != y).sum()
    n = len(labels)
    return {
        "error": wrong.item() / n,
        "loss": total_loss.item() / n,
        "accuracy": 1 - wrong.item() / n,
    }
