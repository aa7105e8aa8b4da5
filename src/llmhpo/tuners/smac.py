"""`tuner=bo tuner.backend=smac`: the paper's BO baseline, SMAC3's
HyperparameterOptimizationFacade (random-forest surrogate), through ask/tell.

Resume replays the log through SMAC's own ask/tell sequence: each logged round
is asked again when it is held (SMAC, seeded, proposes it again) and told its
logged result, in the order the live study asked and told, so SMAC's random
state after a resume is what it was before the interruption and the next
proposal is the one an uninterrupted study would get.
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from llmhpo.errors import ConfigError, Key
from llmhpo.extras import require
from llmhpo.objectives.base import TaskInfo
from llmhpo.space import (
    CategoricalParam,
    FloatParam,
    GridParam,
    IntParam,
    SearchSpace,
    SearchSpaceError,
    logit,
    same_config,
)
from llmhpo.store import EventCursor, TrialRecord
from llmhpo.tuners.base import Proposal, Tuner

log = logging.getLogger(__name__)


def configspace(space: SearchSpace, seed: int) -> Any:
    """The SearchSpace as a ConfigSpace space: floats and ints (linear or log), categoricals,
    grids as ordinals (SMAC's random forest splits on their order, as on a number's) and a
    logit-scale float as its log-odds (ConfigSpace knows no logit scale)."""
    from ConfigSpace import Categorical, ConfigurationSpace, Float, Integer, OrdinalHyperparameter

    hyperparameters = []
    for name, param in space.params.items():
        if isinstance(param, CategoricalParam):
            hyperparameters.append(Categorical(name, list(param.choices)))
            continue
        if isinstance(param, GridParam):
            hyperparameters.append(OrdinalHyperparameter(name, list(param.values)))
            continue
        if param.low is None or param.high is None:
            raise SearchSpaceError(
                f"'{name}' has no finite range, so SMAC cannot search it; "
                "use a bounded space such as search_space=constrained"
            )
        if isinstance(param, FloatParam) and param.logit:
            hyperparameters.append(Float(name, (logit(param.low), logit(param.high))))
        elif isinstance(param, FloatParam):
            hyperparameters.append(
                Float(name, (float(param.low), float(param.high)), log=param.log)
            )
        elif isinstance(param, IntParam):
            hyperparameters.append(Integer(name, (int(param.low), int(param.high)), log=param.log))
    cs = ConfigurationSpace(seed=seed)
    cs.add(hyperparameters)
    return cs


class SMACTuner(Tuner):
    """SMAC3's HyperparameterOptimizationFacade (the paper's BO baseline) through ask/tell."""

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        n_initial: int = 3,
        crash_cost: float | None = None,
        name: str = "bo-smac",
        task: TaskInfo | None = None,
        folder: Path | None = None,
    ):
        require("smac", "tuner=smac (tuner.backend=smac)")
        from smac import HyperparameterOptimizationFacade as HPO
        from smac import Scenario

        super().__init__(space, seed, name, task, folder)
        if n_initial < 1:
            raise ConfigError(Key("tuner", "n_initial"), f" must be >= 1, got {n_initial}")
        worst = crash_cost if crash_cost is not None else (task.worst_value if task else None)
        if worst is None or not math.isfinite(worst):
            raise ConfigError(
                "SMAC scores a failed trial with ", Key("tuner", "crash_cost"), ", which "
                "defaults to the objective's worst value, and this objective declares none "
                "(your own function does not): set ", Key("tuner", "crash_cost"),
                " to a value worse than any trial can reach",
            )  # fmt: skip
        self.crash_cost = float(worst)
        # In the run folder; without one (library use), in a temporary folder, never the cwd,
        # taken away with the tuner.
        if folder:
            output = Path(folder) / "smac"
        else:
            output = Path(tempfile.mkdtemp(prefix="llmhpo-smac-"))
            weakref.finalize(self, shutil.rmtree, output, ignore_errors=True)
        scenario = Scenario(
            configspace(space, self.seed),
            deterministic=True,
            n_trials=10**9,  # the study's budget decides when to stop, not SMAC
            seed=self.seed,
            crash_cost=self.crash_cost,
            output_directory=output,
        )
        self.smac = HPO(
            scenario,
            target_function=_never_called,
            initial_design=HPO.get_initial_design(scenario, n_configs=n_initial),
            intensifier=HPO.get_intensifier(scenario, max_config_calls=1),
            acquisition_maximizer=_hash_free(HPO.get_acquisition_maximizer(scenario)),
            overwrite=True,
            logging_level=False,  # SMAC's own setup would replace Hydra's log handlers
        )
        logging.getLogger("smac").setLevel(logging.WARNING)
        self._asked: Any = None  # SMAC's TrialInfo of the last ask, until it is held
        self._held: dict[int, Any] = {}  # round -> its TrialInfo, held and not settled
        self._cursor = EventCursor()  # how far SMAC follows the ledger

    def ask(self) -> Proposal:
        self._follow()
        self._asked = self.smac.ask()
        return Proposal(self._plain(self._asked.config), {"backend": "smac"})

    def _follow(self) -> None:
        """Bring SMAC up to the ledger, event by event, as they happened."""
        for event in self._cursor.unread(self.ledger):
            if event.kind == "settled":
                info = self._held.pop(event.record.round, None)
                if info is not None:
                    self.smac.tell(info, self._value(event.record))
            elif self.owns(event.record):
                self._hold_own(event.record)
            else:
                self._hold_other(event.record)

    def _hold_own(self, record: TrialRecord) -> None:
        """A round SMAC proposed: the TrialInfo of its last ask; replaying the log on resume,
        SMAC is asked for the same round again (its own sequence goes on as it did live)."""
        info, self._asked = self._asked, None
        if info is None:
            info = self.smac.ask()
            replayed = self._plain(info.config)
            if record.config is not None and not same_config(replayed, record.config):
                log.warning(
                    "SMAC proposed %s on replay where the log has %s (another SMAC version?); "
                    "telling the logged result for SMAC's proposal",
                    replayed,
                    record.config,
                )
        self._held[record.round] = info

    def _hold_other(self, record: TrialRecord) -> None:
        """Another tuner's round is told to SMAC as a trial of its configuration, on SMAC's own
        seed (so that SMAC never asks to evaluate it again); SMAC is not asked for it."""
        if record.config is None:  # nothing will be evaluated: nothing to tell SMAC
            return
        from ConfigSpace import Configuration
        from smac.runhistory.dataclasses import TrialInfo

        space = self.smac.scenario.configspace
        intensifier = self.smac.intensifier
        intensifier.__post_init__()  # SMAC's first ask runs it too; needed for its seeds
        seed = intensifier.get_instance_seed_keys_of_interest()[0].seed
        values = {name: _coordinate(self.space.params[name], value)
                  for name, value in record.config.items()}  # fmt: skip
        config = Configuration(space, values=values)
        self._held[record.round] = TrialInfo(config=config, seed=seed)

    def _value(self, record: TrialRecord) -> Any:
        from smac.runhistory.dataclasses import TrialValue
        from smac.runhistory.enumerations import StatusType

        if record.status in ("ok", "pruned") and record.value is not None:
            # A pruned trial costs its value where it was stopped (SMAC's HPO facade has no
            # budgets): worse than its end would likely have been, as a stopped trial is.
            return TrialValue(cost=float(record.value))
        return TrialValue(cost=self.crash_cost, status=StatusType.CRASHED)

    def _plain(self, config: Any) -> dict[str, Any]:
        """SMAC's Configuration as plain Python values, in the space's key order."""
        values = dict(config)
        return {name: _value_at(param, _python(values[name]))
                for name, param in self.space.params.items()}  # fmt: skip


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _coordinate(param: Any, value: Any) -> Any:
    """A value in ConfigSpace's terms: a logit-scale float as its log-odds."""
    return logit(value) if isinstance(param, FloatParam) and param.logit else value


def _value_at(param: Any, coordinate: Any) -> Any:
    """ConfigSpace's value in the space's terms: log-odds as the fraction."""
    if isinstance(param, FloatParam) and param.logit:
        return param.from_logit(coordinate)
    return coordinate


def _hash_free(maximizer: Any) -> Any:
    """SMAC's acquisition maximizer, its local search started in an order of its own.

    SMAC's local search returns its start points as `list(set(configurations))`; a
    Configuration hashes its repr (strings), so the order follows Python's per-process string
    hashing: the same seed proposed differently in each process unless PYTHONHASHSEED was
    fixed, which only `python -m llmhpo.run` did (not the Python API or the Hydra sweeper), and
    a resumed study diverged from an uninterrupted one. The start points in their reprs' order
    make proposals depend on the seed and the history alone, in every process."""
    local_search = maximizer._local_search
    unordered = local_search._get_initial_points

    def ordered(*args: Any, **kwargs: Any) -> list[Any]:
        return sorted(unordered(*args, **kwargs), key=repr)

    local_search._get_initial_points = ordered
    return maximizer


def _never_called(config: Any, seed: int = 0) -> float:
    raise RuntimeError("llmhpo drives SMAC through ask/tell; the target function is never called")
