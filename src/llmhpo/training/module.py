"""The LightningModule of one trial: the tuned optimiser, loss and LR schedule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from llmhpo.training.batches import DeviceBatches
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

    The first bad step is recorded on the device; the host looks every
    `check_every` steps (1 on the CPU, where looking is free) and at the end of
    each epoch, then stops the trial naming that step.
    """

    def __init__(self, device: torch.device, check_every: int):
        self.check_every = max(1, check_every)
        self.first_bad_step = torch.full((), -1, dtype=torch.int64, device=device)

    def observe(self, loss: torch.Tensor, step: int) -> None:
        bad = ~torch.isfinite(loss.detach())
        unseen = self.first_bad_step < 0
        self.first_bad_step = torch.where(bad & unseen, step, self.first_bad_step)
        if (step + 1) % self.check_every == 0:
            self.check()

    def check(self) -> None:
        step = int(self.first_bad_step.item())
        if step >= 0:
            raise TrialDivergedError(f"loss diverged at step {step}")


class ClassifierModule(L.LightningModule):
    def __init__(
        self,
        model: nn.Module,
        optim: OptimSettings,
        epochs: int,
        batches: DeviceBatches,
        divergence_check_every: int = 1,
    ):
        super().__init__()
        # Manual optimisation: one backward and one step per batch needs none of automatic
        # optimisation's closure and hooks, whose per-step Python cost shows on a fast GPU.
        self.automatic_optimization = False
        self.model = model
        self.optim = optim
        self.epochs = epochs
        self.batches = batches
        self.guard = DivergenceGuard(batches.images.device, divergence_check_every)
        self.last_loss: torch.Tensor | None = None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images)

    def train_dataloader(self) -> DeviceBatches:
        return self.batches

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        images, labels = batch
        loss = F.cross_entropy(
            self.model(images), labels, label_smoothing=self.optim.label_smoothing
        )
        step = self.global_step
        optimizer = self.optimizers()
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        optimizer.step()
        self.lr_schedulers().step()
        self.guard.observe(loss, step)
        # Kept, not passed to self.log: Lightning moves logged values to the CPU after every
        # step, a host-device sync that stalls a fast GPU.
        self.last_loss = loss.detach()
        return loss

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
        total = self.trainer.estimated_stepping_batches
        warmup = (self.epochs // 5) * len(self.batches)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_linear(warmup, total))
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
