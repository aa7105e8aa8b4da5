"""`tuner=fixed`: one trial with a given configuration (the reference's default mode).

Checks a configuration by hand, reproduces one trial of a study, or retrains a
study's winner (`from_run`) with other settings, such as more epochs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmhpo.errors import ConfigError
from llmhpo.files import DamagedFileError, read_json
from llmhpo.objectives.base import TaskInfo
from llmhpo.run_folder import SUMMARY_FILE, TRIALS_FILE
from llmhpo.space import InvalidConfigError, SearchSpace
from llmhpo.trial_log import TrialLog
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


class FromRunError(ConfigError):
    """`tuner.from_run` does not point at a usable finished study."""


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


def config_from_run(folder: Path, round_index: int | None) -> dict[str, Any]:
    """The best configuration of a finished study, or the one evaluated in `round_index`."""
    if round_index is not None:
        # Never written: the source may be a running study's folder, or read-only.
        records = TrialLog(folder / TRIALS_FILE).read_only()  # [] when there is no log
        if not 0 <= round_index < len(records):
            raise FromRunError(
                f"tuner.from_round={round_index}: {folder / TRIALS_FILE} has rounds 0 to "
                f"{len(records) - 1}"
                if records
                else f"{folder / TRIALS_FILE} holds no trials"
            )
        if records[round_index].config is None:
            raise FromRunError(
                f"round {round_index} of {folder} was invalid: nothing was evaluated"
            )
        return dict(records[round_index].config)
    summary_path = folder / SUMMARY_FILE
    if not summary_path.exists():
        raise FromRunError(
            f"tuner.from_run={folder}: no {SUMMARY_FILE} there; give the folder of a finished "
            "study (outputs/<run>/ or outputs/multirun/<run>/), or tuner.from_round=N for one of "
            "its rounds"
        )
    try:
        summary = read_json(summary_path)
    except DamagedFileError as error:
        raise FromRunError(
            f"{error}; run that study's command again to rewrite it (its trials are kept), or "
            "give tuner.from_round=N for one of its rounds"
        ) from error
    if not summary.get("best_config"):
        raise FromRunError(f"{summary_path} has no best configuration (no trial finished ok)")
    return dict(summary["best_config"])
