"""`tuner=fixed`: one trial with a given configuration (the reference's default mode).

Checks a configuration by hand, reproduces one trial of a study, or retrains a
study's winner (`from_run`) with other settings, such as more epochs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmhpo.errors import ConfigError
from llmhpo.objectives.base import TaskInfo
from llmhpo.space import InvalidConfigError, SearchSpace
from llmhpo.store import config_from_run
from llmhpo.tuners.base import Proposal, Tuner

# The reference's command-line defaults (cifar/train.py): they stand in tuner.config for
# objective=train and are dropped for a space without these keys (the toy functions).
REFERENCE_DEFAULTS = {
    "optimizer": "sgd",
    "learning_rate": 0.01,
    "train_batch_size": 512,
    "weight_decay": 0.0001,
    "label_smoothing": 0.0,
}


class FixedTuner(Tuner):
    """Proposes one given configuration, checked against the space before any work."""

    trials = 1  # a study of exactly one trial, whatever the budget

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        config: dict[str, Any] | None = None,
        from_run: str | None = None,
        from_round: int | None = None,
        name: str = "fixed",
        task: TaskInfo | None = None,
        folder: Path | None = None,
    ):
        super().__init__(space, seed, name, task, folder)
        if from_run:
            self.source = f"{from_run} (round {from_round})" if from_round is not None else from_run
            self.config = config_from_run(Path(from_run), from_round)
        else:
            self.source = "tuner.config"
            self.config = _for_space(config or {}, space)
        try:  # an out-of-space value fails now, with the space's message
            space.validate(self.config)
        except InvalidConfigError as error:
            raise ConfigError(f"tuner=fixed's configuration ({self.source}): {error}") from None

    def ask(self) -> Proposal:
        return Proposal(dict(self.config), {"source": self.source})


def _for_space(config: dict[str, Any], space: SearchSpace) -> dict[str, Any]:
    """Drop unset keys, and reference defaults that this space has no use for."""
    return {
        key: value
        for key, value in config.items()
        if value is not None
        and (key in space.params or REFERENCE_DEFAULTS.get(key, object()) != value)
    }
