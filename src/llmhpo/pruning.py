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

from llmhpo.checks import check_argument_types, whole_number
from llmhpo.errors import ConfigError
from llmhpo.store import EventCursor, Ledger
from llmhpo.store.trial_log import TrialRecord

log = logging.getLogger(__name__)

PRUNERS = ("none", "median", "asha", "hyperband")  # the files of conf/pruner/
SHADOW_STUDY_NAME = "llmhpo"  # Hyperband's brackets hash it with the round
# Each key of each pruner: the least whole number it takes, and whether "auto" is allowed.
# Optuna checks only some of them when the pruner is made; the others failed every trial
# (a math domain error, a division by zero) once a step was judged.
PRUNER_KEYS: dict[str, dict[str, tuple[int, bool]]] = {
    "median": {
        "n_startup_trials": (0, False),
        "n_warmup_steps": (0, False),
        "interval_steps": (1, False),
        "n_min_trials": (1, False),
    },
    "asha": {
        "min_resource": (1, True),
        "reduction_factor": (2, False),
        "min_early_stopping_rate": (0, False),
        "bootstrap_count": (0, False),
    },
    "hyperband": {
        "min_resource": (1, False),
        "max_resource": (1, True),
        "reduction_factor": (2, False),
        "bootstrap_count": (0, False),
    },
}


class Pruner:
    """An Optuna pruner over the rounds of one study: it reads the study's ledger (`attach`)
    and judges a round's steps as they are reported (`report`)."""

    def __init__(self, name: str, pruner: Any):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.name = name
        self.study = optuna.create_study(
            study_name=SHADOW_STUDY_NAME, direction="minimize", pruner=pruner
        )
        self._trials: dict[int, Any] = {}  # round -> its Optuna trial, held and not settled
        self._ledger: Ledger | None = None
        self._cursor = EventCursor()

    def attach(self, ledger: Ledger) -> None:
        """Read the rounds of `ledger` (the study's) from now on."""
        self._ledger = ledger

    def report(self, record: TrialRecord, step: int, value: float) -> bool:
        """The round's value after `step` steps; returns whether the pruner stops it there."""
        self._follow()
        trial = self._trials[record.round]
        trial.report(value, step)
        return bool(trial.should_prune())

    def _follow(self) -> None:
        """Bring the shadow study up to the ledger: each round held since gets its trial (a
        replayed one its whole curve, each step reported and judged again, as it was live,
        since a pruner keeps what it decided at a step in the trial and later decisions read
        it); each round settled since is told."""
        for event in self._cursor.unread(self._ledger):
            if event.kind == "held":
                trial = self.study.ask()
                self._trials[event.record.round] = trial
                for step, value in event.record.curve if event.replayed else ():
                    trial.report(value, int(step))
                    trial.should_prune()
            else:
                self._tell(event.record)

    def _tell(self, record: TrialRecord) -> None:
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
    _check_values(name, options)
    try:
        return Pruner(name, cls(**options))
    except (ValueError, TypeError) as error:
        raise ConfigError(f"pruner={name}: {error}") from None


def _check_values(name: str, options: dict[str, Any]) -> None:
    """Each key of PRUNER_KEYS a whole number from its least value ("auto" where allowed),
    and Hyperband's resources in order: refused before any trial, not failing every trial."""
    for key, (least, auto) in PRUNER_KEYS.get(name, {}).items():
        if key not in options or (auto and options[key] == "auto"):
            continue
        meaning = f"pruner={name}" + (', or "auto"' if auto else "")
        options[key] = whole_number(options[key], f"pruner.{key}", meaning, minimum=least)
    low, high = options.get("min_resource"), options.get("max_resource")
    if name == "hyperband" and isinstance(low, int) and isinstance(high, int) and high < low:
        raise ConfigError(
            f"pruner.max_resource ({high}) is below pruner.min_resource ({low}): a trial's "
            "whole run (max_resource steps) must reach the first rung"
        )
