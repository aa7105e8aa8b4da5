"""Model registry: a model config plus the trial's configuration -> an nn.Module.

A key of the trial configuration that names a field of the model config
overrides it, so a search space with architecture keys (`vit_arch`) tunes the
architecture with no code change. A new model is one module here plus one YAML
file in `conf/model/`.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from llmhpo.training.models.resnet9 import ResNet9
from llmhpo.training.models.vit import ViT

# Each class checks its arguments before allocating anything and raises ValueError
# naming what cannot work; build_model raises that as an ArchitectureError.
_MODELS: dict[str, type[nn.Module]] = {"resnet9": ResNet9, "vit": ViT}


NOT_ARCHITECTURE = ("name", "channels_last", "description")  # model config keys no class sees


class ArchitectureError(ValueError):
    """The model cannot be built from this configuration; found before training starts."""


def model_settings(model_cfg: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Model config fields, with the trial's architecture keys applied on top."""
    settings = {k: v for k, v in model_cfg.items() if k not in NOT_ARCHITECTURE}
    settings.update({k: v for k, v in config.items() if k in settings})
    return settings


def build_model(
    model_cfg: dict[str, Any],
    config: dict[str, Any],
    *,
    channels: int,
    image_size: int,
    num_classes: int,
) -> nn.Module:
    name = model_cfg.get("name")
    if name not in _MODELS:
        raise ArchitectureError(f"unknown model {name!r}; choose model= from {sorted(_MODELS)}")
    settings = model_settings(model_cfg, config)
    try:
        return _MODELS[name](
            channels=channels, image_size=image_size, num_classes=num_classes, **settings
        )
    except ValueError as error:
        raise ArchitectureError(f"{name}: {error}") from None
