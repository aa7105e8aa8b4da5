"""Model registry: a model config plus the trial's configuration -> an nn.Module.

A key of the trial configuration that names a field of the model config
overrides it, so a search space with architecture keys (`vit_arch`) tunes the
architecture with no code change. A new model is one module here plus one YAML
file in `conf/model/`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from llmhpo.training.models.resnet9 import ResNet9
from llmhpo.training.models.vit import ViT, check_vit_architecture

Builder = Callable[..., nn.Module]
_BUILDERS: dict[str, tuple[Builder, Callable[..., None] | None]] = {
    "resnet9": (ResNet9, None),
    "vit": (ViT, check_vit_architecture),
}


NOT_ARCHITECTURE = (
    "name",
    "channels_last",
    "description",
)  # model config keys the class never sees


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
    if name not in _BUILDERS:
        raise ArchitectureError(f"unknown model {name!r}; choose model= from {sorted(_BUILDERS)}")
    build, check = _BUILDERS[name]
    settings = model_settings(model_cfg, config)
    if check is not None:
        try:
            check(image_size=image_size, **settings)
        except ValueError as error:
            raise ArchitectureError(f"{name}: {error}") from None
    return build(channels=channels, image_size=image_size, num_classes=num_classes, **settings)
