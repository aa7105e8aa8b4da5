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
`tuner="llambo"` proposes by LLAMBO's steps instead (conf/tuner/llambo.yaml's options).
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Mapping
from typing import Any

import optuna
from omegaconf import OmegaConf
from optuna.distributions import BaseDistribution
from optuna.search_space import IntersectionSearchSpace
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from llmhpo.api import in_door_terms
from llmhpo.errors import ConfigError
from llmhpo.llm.credentials import api_key
from llmhpo.objectives.base import METRIC_KEY, metric_task
from llmhpo.space import SearchSpace
from llmhpo.store.trial_log import Status, TrialRecord, TrialRequest
from llmhpo.study.rounds import Rounds
from llmhpo.tuners.base import Tuner
from llmhpo.tuners.optuna_space import optuna_value, param_of

USER_ATTR = "llmhpo"  # per trial: {"source": "llm" | "fallback" | "independent", ...}
# The LLM tuners whose state is the study's history alone, rebuilt for every proposal; a
# hybrid or Centaur keeps a second optimiser's state, which an Optuna sampler cannot hold.
SAMPLER_TUNERS = ("llm", "llambo")
KEPT_FOR_LATER = ("phase", "warm_start")  # a round's tuner info that later rounds read


class LLMSampler(optuna.samplers.BaseSampler):
    """Optuna sampler driven by any LLM llmhpo speaks (`llm`: a conf/llm preset or a dict)."""

    @in_door_terms
    def __init__(
        self,
        llm: str | Mapping[str, Any] = "local",
        seed: int = 0,
        budget: int = 10,
        prompt: Mapping[str, Any] | None = None,
        task_description: str | None = None,
        metric: str = "objective value",
        independent_sampler: optuna.samplers.BaseSampler | None = None,
        tuner: str = "llm",
        **tuner_options: Any,
    ):
        """A sampler whose proposals the LLM makes, through llmhpo's LLM tuner.

        Args:
            llm: a file of conf/llm/ ("local": the embedded model) or a dict of its keys.
            seed: seeds the LLM's retries and the independent sampler.
            budget: the number of trials the prompt announces (Optuna's n_trials is not
                known to a sampler; a study that runs more announces more).
            prompt: keys of conf/prompt/ (format, cot, ...).
            task_description: what is tuned, in the prompt.
            metric: the objective value's name, in the prompt.
            independent_sampler: proposes what the LLM cannot (the first trial, conditional
                parameters, a round without a valid answer); Optuna's RandomSampler by
                default.
            tuner: "llm" (the paper's method) or "llambo" (LLAMBO's candidates, surrogate
                and expected improvement).
            **tuner_options: keys of conf/tuner/llm.yaml (max_attempts, on_invalid,
                allow_repeats, retry_temperature), or of conf/tuner/llambo.yaml.
        """
        from llmhpo.assemble import check, code_config

        # A round without a valid answer falls back to the independent sampler, whatever the
        # LLM (the CLI's default for a remote one is to fail); on_invalid="fail" stops instead.
        if tuner not in SAMPLER_TUNERS:
            raise ConfigError(f"LLMSampler's tuner must be one of {SAMPLER_TUNERS}, got {tuner!r}")
        tuner_options.setdefault("on_invalid", "random")
        self._cfg = code_config(tuner, budget, seed, llm, prompt, options=tuner_options)
        check(self._cfg)  # a missing extra, a pasted key: refused before the first trial
        self._budget = int(self._cfg.budget)
        # None: the tuner never repeats an evaluated configuration (LLAMBO deduplicates)
        self._allow_repeats = self._cfg.tuner.get("allow_repeats")
        if self._cfg.llm.get("provider") == "litellm":  # not at trial 2, after an evaluation
            api_key(str(self._cfg.llm.model), self._cfg.llm.get("api_key_env"))
        self._seed = seed
        self._task_description = task_description
        self._metric = metric
        self._independent = independent_sampler or optuna.samplers.RandomSampler(seed=seed)
        self._intersection = IntersectionSearchSpace()
        self._lock = threading.Lock()  # one proposal at a time, also with n_jobs > 1
        self._proposed: dict[int, dict[str, Any]] = {}  # trial number -> the LLM's config
        self._warned_past_budget = False

    def _warn_past_budget(self, trial: int) -> None:
        """Once: the study runs more trials than the prompt's budget announced."""
        if self._warned_past_budget:
            return
        self._warned_past_budget = True
        warnings.warn(
            f"LLMSampler(budget={self._budget}) is proposing trial {trial}: from now on its "
            "prompts announce a budget of the trials run so far plus this one, so the LLM is "
            "never told it is past its budget. Pass budget=n_trials to announce the real one.",
            UserWarning,
            stacklevel=2,
        )

    def reseed_rng(self) -> None:
        self._independent.reseed_rng()

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        if len(study.directions) > 1:  # asked at the first trial, before any evaluation
            raise ConfigError(
                f"LLMSampler tunes one objective; this study has {len(study.directions)} "
                "directions: use a multi-objective sampler (optuna.samplers.NSGAIISampler)"
            )
        space = self._intersection.calculate(study)
        return {name: d for name, d in space.items() if param_of(name, d) is not None}

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            _mark(study, trial, {"source": "independent"})
            return {}
        with self._lock:
            history = _history(study, search_space)
            if len(history) >= self._budget:
                self._warn_past_budget(len(history) + 1)
            # Optuna's n_trials is unknown here: a study that outgrows `budget` is never told
            # it has a budget of fewer trials than it has already run. Where trials have
            # parameters beyond the shared ones (define-by-run, conditional), those come from
            # the independent sampler: the shared ones again are no repeat.
            options: dict[str, Any] = {"budget": max(self._budget, len(history) + 1)}
            if self._allow_repeats is not None:
                repeats = self._allow_repeats or _has_other_params(study, search_space)
                options["allow_repeats"] = repeats
            tuner = self._tuner_for(study, search_space, options)
            rounds = Rounds(batch_size=1, budget=len(history) + 1)
            for record in history:  # as a resumed study replays its log
                rounds.hold(record, replayed=True)
                rounds.settle_all()
            # Trials running beside this one (n_jobs > 1, other workers): never proposed again.
            for record in self._running(study, trial, search_space, len(history)):
                rounds.hold(record, replayed=False)
            tuner.attach(rounds)
            proposal = tuner.ask()
            if proposal.config is not None and not proposal.info.get("fallback"):
                self._proposed[trial.number] = dict(proposal.config)
        info = {key: proposal.info.get(key) for key in ("attempts", "answer", "rejections")}
        # LLAMBO's warm start, asked once for several trials: kept where the next trial reads it
        info.update({key: proposal.info[key] for key in KEPT_FOR_LATER if key in proposal.info})
        if proposal.config is None or proposal.info.get("fallback"):
            # No valid new answer: the independent sampler proposes instead (sample_independent).
            reason = proposal.error or proposal.info.get("invalid_reason")
            if proposal.fatal:
                raise optuna.exceptions.OptunaError(f"LLMSampler: {reason}")
            _mark(study, trial, {"source": "fallback", "reason": reason, **info})
            return {}
        _mark(study, trial, {"source": "llm", **info})
        return {name: optuna_value(search_space[name], v) for name, v in proposal.config.items()}

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        """A parameter the LLM did not propose: the independent sampler's, and the trial's
        user attribute lists it under `independent`."""
        info = dict(study._storage.get_trial(trial._trial_id).user_attrs.get(USER_ATTR, {}))
        if info.get("source") != "independent":  # a trial wholly independent says so already
            info["independent"] = [*info.get("independent", []), param_name]
            _mark(study, trial, info)
        return self._independent.sample_independent(study, trial, param_name, param_distribution)

    def _running(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        search_space: dict[str, BaseDistribution],
        first_round: int,
    ) -> list[TrialRequest]:
        """The other running trials' configurations (from the storage, or as this sampler
        proposed them before their objective suggested them), as requests out for evaluation."""
        configs = []
        for other in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if other.number == trial.number:
                continue
            if all(name in other.params for name in search_space):
                configs.append({name: other.params[name] for name in search_space})
            elif other.number in self._proposed:
                configs.append(self._proposed[other.number])
        return [
            TrialRequest(round=first_round + i, config=config, proposed=config)
            for i, config in enumerate(configs)
        ]

    def _tuner_for(
        self,
        study: optuna.Study,
        search_space: dict[str, BaseDistribution],
        options: dict[str, Any],
    ) -> Tuner:
        """A new LLM tuner for this space and direction, with `options` over the sampler's
        own, which has read nothing yet: the study's history is its ledger, made afresh for
        each proposal, since trials finishing out of order (n_jobs > 1) change the history's
        order, not only its end."""
        from llmhpo.assemble import llm_nodes, make_tuner

        space = SearchSpace([param_of(n, d) for n, d in search_space.items()], name="optuna")
        direction = "maximize" if study.direction == StudyDirection.MAXIMIZE else "minimize"
        task = metric_task(self._task_description, self._metric, direction)
        node = OmegaConf.merge(self._cfg.tuner, options)
        return make_tuner(node, space, self._seed, task, None, given=llm_nodes(self._cfg))


def _has_other_params(study: optuna.Study, search_space: dict[str, BaseDistribution]) -> bool:
    """Whether a finished trial has a parameter outside `search_space` (a conditional one)."""
    finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return any(set(t.params) - set(search_space) for t in finished)


def _mark(study: optuna.Study, trial: FrozenTrial, info: dict[str, Any]) -> None:
    """Where the trial's parameters came from, as its user attribute `llmhpo` (samplers get a
    FrozenTrial, so they write through the storage, as Optuna's own samplers do)."""
    study._storage.set_trial_user_attr(trial._trial_id, USER_ATTR, info)


def _history(study: optuna.Study, search_space: dict[str, BaseDistribution]) -> list[TrialRecord]:
    """The study's finished trials as llmhpo's trial records, in order: the value the tuner
    minimises (negated for a maximised study), the metric as reported, pruned trials with
    their curves, failed trials (and trials pruned before any step) as failed."""
    sign = -1.0 if study.direction == StudyDirection.MAXIMIZE else 1.0
    records: list[TrialRecord] = []
    finished = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    for trial in study.get_trials(deepcopy=False, states=finished):
        if not all(name in trial.params for name in search_space):
            continue
        config = {name: trial.params[name] for name in search_space}
        marked = trial.user_attrs.get(USER_ATTR, {})
        tuner = {key: marked[key] for key in KEPT_FOR_LATER if key in marked}
        asked = {"round": len(records), "config": config, "proposed": config, "tuner": tuner}
        complete = trial.state == TrialState.COMPLETE and trial.value is not None
        if complete and math.isfinite(trial.value):
            record = TrialRecord(status=Status.OK, value=sign * trial.value,
                                 metrics={METRIC_KEY: trial.value}, **asked)  # fmt: skip
        elif trial.state == TrialState.PRUNED and trial.intermediate_values:
            # Shown to the LLM as stopped early, with what its curve had reached.
            steps = sorted(trial.intermediate_values.items())
            record = TrialRecord(
                status=Status.PRUNED, value=sign * steps[-1][1],
                metrics={METRIC_KEY: steps[-1][1]}, error=f"pruned at step {steps[-1][0]}",
                curve=[[step, sign * value] for step, value in steps], **asked,
            )  # fmt: skip
        else:
            record = TrialRecord(status=Status.FAILED, error="the trial failed", **asked)
        records.append(record)
    return records
