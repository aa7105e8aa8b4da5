"""Early stopping of bad trials with Optuna's pruners, whatever the tuner.

A pruner judges a trial by its curve (the values it reported after each step) against the
other trials' values at the same step. llmhpo keeps a shadow Optuna study in memory that
holds nothing but the rounds' curves and outcomes, one Optuna trial per round (its number is
the round): the pruner reads it and no tuner does, so random search, BO, SMAC and the LLM
are pruned alike (`pruner=median`, `asha`, `hyperband`; `none`, the paper's protocol, by
default).

The shadow is rebuilt from the trial log on resume, each logged round's curve reported and
its outcome told in round order, so a resumed study stops the same trials at the same steps
as an uninterrupted one. That holds for trials evaluated one at a time; in parallel
batches, what the pruner sees at a step depends on which trials finished first.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from hydra.utils import get_object

from llmhpo.errors import ConfigError, check_argument_types
from llmhpo.trial_log import TrialRecord

log = logging.getLogger(__name__)

PRUNERS = ("none", "median", "asha", "hyperband")  # the files of conf/pruner/
SHADOW_STUDY_NAME = "llmhpo"  # Hyperband's brackets hash it with the round


class Pruner:
    """An Optuna pruner over the rounds of one study: `hold` a round, `report` its steps
    (whether to stop it), `tell` its outcome."""

    def __init__(self, name: str, pruner: Any):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.name = name
        self.study = optuna.create_study(
            study_name=SHADOW_STUDY_NAME, direction="minimize", pruner=pruner
        )
        self._trials: dict[int, Any] = {}  # round -> its Optuna trial, held and not told

    def hold(self, record: TrialRecord) -> None:
        """A round is out for evaluation (or replayed from the log, with its whole curve:
        each step reported and judged again, as it was live, since a pruner keeps what it
        decided at a step in the trial, and later decisions read it)."""
        trial = self.study.ask()
        self._trials[record.round] = trial
        for step, value in record.curve:
            trial.report(value, int(step))
            trial.should_prune()

    def report(self, record: TrialRecord, step: int, value: float) -> bool:
        """The round's value after `step` steps; returns whether the pruner stops it there."""
        trial = self._trials[record.round]
        trial.report(value, step)
        return bool(trial.should_prune())

    def tell(self, record: TrialRecord) -> None:
        """The round's outcome: a finished value, pruned at its last step, or failed."""
        from optuna.trial import TrialState

        trial = self._trials.pop(record.round)
        if record.status == "ok" and record.value is not None:
            self.study.tell(trial, record.value)
        elif record.status == "pruned":
            self.study.tell(trial, state=TrialState.PRUNED)
        else:
            self.study.tell(trial, state=TrialState.FAIL)


def make_pruner(cfg: Mapping[str, Any] | None) -> Pruner | None:
    """The pruner a `pruner` config node names (None for `none`); its keys are those of the
    Optuna pruner its `_target_` names, checked before any trial."""
    if not cfg or cfg.get("name", "none") == "none":
        return None
    name = str(cfg.get("name"))
    target = cfg.get("_target_")
    if not target:
        raise ConfigError(
            f"pruner={name} names no Optuna pruner (_target_); use one of {list(PRUNERS)}"
        )
    cls = get_object(str(target))
    options = {k: v for k, v in cfg.items() if k not in ("name", "_target_")}
    check_argument_types(cls, options, "pruner")
    try:
        return Pruner(name, cls(**options))
    except (ValueError, TypeError) as error:
        raise ConfigError(f"pruner={name}: {error}") from None
