"""`LLMSampler`: an Optuna sampler whose proposals come from llmhpo's LLM tuner.

    import optuna
    from llmhpo.integrations.optuna import LLMSampler

    study = optuna.create_study(sampler=LLMSampler(llm="local", seed=0))
    study.optimize(objective, n_trials=10)

Each trial, the LLM sees the parameters every finished trial shares (Optuna's intersection
search space: floats, log floats, ints and categoricals, all proposed by the LLM) and the
study's history (pruned and failed trials told as such), through the same prompts,
validation, retries with the reasons, and replay cache as `tuner=llm`. What it cannot see
yet (the first trial, before any parameter is known; a parameter that only some trials
have) comes from `independent_sampler` (default: Optuna's RandomSampler, seeded). A round
where the LLM gives no valid new answer falls back to that sampler too (with the embedded
model; a remote one raises, as tuner.on_invalid=fail), and the trial's user attribute
`llmhpo` says which it was. Trials are proposed one at a time, also under `n_jobs>1`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.search_space import IntersectionSearchSpace
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from llmhpo.objectives.base import METRIC_KEY, metric_task
from llmhpo.space import CategoricalParam, FloatParam, IntParam, Param, SearchSpace
from llmhpo.trial_log import TrialRecord
from llmhpo.tuners.base import Tuner

USER_ATTR = "llmhpo"  # per trial: {"source": "llm" | "fallback" | "independent", ...}


class LLMSampler(optuna.samplers.BaseSampler):
    """Optuna sampler driven by any LLM llmhpo speaks (`llm`: a conf/llm preset or a dict)."""

    def __init__(
        self,
        llm: str | Mapping[str, Any] = "local",
        seed: int = 0,
        budget: int = 10,
        prompt: Mapping[str, Any] | None = None,
        task_description: str | None = None,
        metric: str = "objective value",
        independent_sampler: optuna.samplers.BaseSampler | None = None,
        **tuner_options: Any,
    ):
        """`budget`: the number of trials the prompt announces (Optuna's n_trials is not
        known to a sampler). `tuner_options`: keys of conf/tuner/llm.yaml (max_attempts,
        on_invalid, allow_repeats, retry_temperature)."""
        from llmhpo.api import tuner_config

        self._cfg = tuner_config("llm", budget, seed, llm, prompt, tuner_options)
        if task_description is not None:
            self._cfg.prompt.task_description = task_description
        self._seed = seed
        self._task_description = task_description
        self._metric = metric
        self._independent = independent_sampler or optuna.samplers.RandomSampler(seed=seed)
        self._intersection = IntersectionSearchSpace()
        self._lock = threading.Lock()  # one proposal at a time, also with n_jobs > 1
        self._tuner: Tuner | None = None
        self._tuner_key: tuple[Any, ...] | None = None

    def reseed_rng(self) -> None:
        self._independent.reseed_rng()

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        space = self._intersection.calculate(study)
        return {name: d for name, d in space.items() if _param(name, d) is not None}

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            _mark(study, trial, {"source": "independent"})
            return {}
        with self._lock:
            tuner = self._tuner_for(study, search_space)
            tuner.history = _history(study, search_space)
            proposal = tuner.ask()
        info = {key: proposal.info.get(key) for key in ("attempts", "answer", "rejections")}
        if proposal.config is None or proposal.info.get("fallback"):
            # No valid new answer: the independent sampler proposes instead (sample_independent).
            reason = proposal.error or proposal.info.get("invalid_reason")
            if proposal.fatal:
                raise optuna.exceptions.OptunaError(f"LLMSampler: {reason}")
            _mark(study, trial, {"source": "fallback", "reason": reason, **info})
            return {}
        _mark(study, trial, {"source": "llm", **info})
        return {name: _to_optuna(search_space[name], v) for name, v in proposal.config.items()}

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self._independent.sample_independent(study, trial, param_name, param_distribution)

    def _tuner_for(
        self, study: optuna.Study, search_space: dict[str, BaseDistribution]
    ) -> Tuner:
        """The LLM tuner for this space and direction, built again only when they change."""
        key = (tuple(sorted(search_space.items(), key=lambda kv: kv[0])), study.direction)
        if self._tuner is None or self._tuner_key != key:
            from llmhpo.builder import make_tuner

            space = SearchSpace([_param(n, d) for n, d in search_space.items()], name="optuna")
            direction = "maximize" if study.direction == StudyDirection.MAXIMIZE else "minimize"
            task = metric_task(self._task_description, self._metric, direction)
            self._tuner = make_tuner(self._cfg.tuner, space, self._seed, task, None)
            self._tuner_key = key
        return self._tuner


def _mark(study: optuna.Study, trial: FrozenTrial, info: dict[str, Any]) -> None:
    """Where the trial's parameters came from, as its user attribute `llmhpo` (samplers get a
    FrozenTrial, so they write through the storage, as Optuna's own samplers do)."""
    study._storage.set_trial_user_attr(trial._trial_id, USER_ATTR, info)


def _param(name: str, distribution: BaseDistribution) -> Param | None:
    """llmhpo's parameter for an Optuna distribution; None for one it cannot show the LLM
    (an int or float with a step other than 1: left to the independent sampler)."""
    if isinstance(distribution, CategoricalDistribution):
        return CategoricalParam(name, tuple(distribution.choices))
    if isinstance(distribution, IntDistribution):
        if distribution.step != 1:
            return None
        return IntParam(name, distribution.low, distribution.high, distribution.log)
    if isinstance(distribution, FloatDistribution):
        if distribution.step is not None:
            return None
        return FloatParam(name, distribution.low, distribution.high, distribution.log)
    return None


def _to_optuna(distribution: BaseDistribution, value: Any) -> Any:
    """A validated value as Optuna stores it (an int for an IntDistribution)."""
    return int(value) if isinstance(distribution, IntDistribution) else value


def _history(study: optuna.Study, search_space: dict[str, BaseDistribution]) -> list[TrialRecord]:
    """The study's finished trials as llmhpo's trial records, in order: the value the tuner
    minimises (negated for a maximised study), the metric as reported, pruned and failed
    trials as failed with the reason."""
    sign = -1.0 if study.direction == StudyDirection.MAXIMIZE else 1.0
    records: list[TrialRecord] = []
    finished = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    for trial in study.get_trials(deepcopy=False, states=finished):
        if not all(name in trial.params for name in search_space):
            continue
        config = {name: trial.params[name] for name in search_space}
        record = TrialRecord(round=len(records), status="ok", config=config, proposed=config)
        complete = trial.state == TrialState.COMPLETE and trial.value is not None
        if complete and math.isfinite(trial.value):
            record.value = sign * trial.value
            record.metrics = {METRIC_KEY: trial.value}
        elif trial.state == TrialState.PRUNED:
            step = trial.last_step
            last = trial.intermediate_values.get(step) if step is not None else None
            record.status, record.error = "failed", f"pruned at step {step} (last value {last})"
        else:
            record.status, record.error = "failed", "the trial failed"
        records.append(record)
    return records
