"""`tuner=bo`: Bayesian optimisation with Optuna's TPE or GP sampler, via ask/tell.

The sampler is rebuilt each round with a seed derived from (seed, round), so
the proposals depend only on the seed and the trial history: a resumed study
proposes what an uninterrupted one would have.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from llmhpo.errors import ConfigError, Key
from llmhpo.extras import require
from llmhpo.objectives.base import TaskInfo
from llmhpo.space import SearchSpace, same_config
from llmhpo.store import EventCursor, TrialRecord
from llmhpo.tuners.base import Proposal, Tuner
from llmhpo.tuners.optuna_space import distributions, from_optuna, to_optuna

log = logging.getLogger(__name__)

SAMPLERS = ("tpe", "gp", "cmaes")
# Samplers that keep their state in the trials they sample (CMA-ES: its optimizer, in each
# trial's system attributes): a replayed round of theirs is asked of them again, as it was
# live, instead of being entered with its logged configuration.
STATEFUL_SAMPLERS = ("cmaes",)
BACKENDS = ("optuna", "smac")


def bo_name(backend: str, sampler: str) -> str:
    """`bo-tpe`, `bo-gp` (Optuna's samplers), `bo-smac`: the tuner's name in run folders."""
    return "bo-smac" if backend == "smac" else f"bo-{sampler}"


def bayesian_optimisation(
    space: SearchSpace,
    seed: int,
    backend: str = "optuna",
    sampler: str = "tpe",
    n_startup_trials: int = 3,
    n_initial: int = 3,
    crash_cost: float | None = None,
    name: str | None = None,
    task: TaskInfo | None = None,
    folder: Path | None = None,
    adopt: bool = False,
) -> Tuner:
    """`tuner=bo`: Optuna (`sampler`, `n_startup_trials`; `adopt`, for a tuner in front of
    it) or SMAC3 (`n_initial`, `crash_cost`)."""
    name = name or bo_name(backend, sampler)
    if backend == "optuna":
        return OptunaTuner(space, seed, sampler, n_startup_trials, name, task, folder, adopt)
    if backend == "smac":
        from llmhpo.tuners.smac import SMACTuner

        return SMACTuner(space, seed, n_initial, crash_cost, name, task, folder)
    raise ConfigError(
        Key("tuner", "backend", repr(backend)), f" is not known; choose one of {BACKENDS}"
    )


class OptunaTuner(Tuner):
    """Optuna's TPE, GP or CMA-ES sampler through ask/tell, reseeded each round from (seed,
    round)."""

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        sampler: str = "tpe",
        n_startup_trials: int = 3,
        name: str | None = None,
        task: TaskInfo | None = None,
        folder: Path | None = None,
        adopt: bool = False,
    ):
        """`adopt`: a round this tuner was asked for that evaluated another configuration
        (an LLM's, in Centaur) keeps its trial, its parameters set to what was evaluated, so
        the sampler learns from it as from its own (CMA-ES counts it in its generation);
        otherwise such a proposal is dropped as FAIL and the other configuration entered."""
        import optuna

        if sampler not in SAMPLERS:
            why = f" is not known; choose one of {SAMPLERS}"
            raise ConfigError(Key("tuner", "sampler", repr(sampler)), why)
        if sampler == "gp":
            require("gp", "tuner=bo_gp (tuner.sampler=gp)")
        if sampler == "cmaes":
            require("cmaes", "tuner=cmaes (tuner.sampler=cmaes)")
        if n_startup_trials < 1:
            why = f" must be >= 1, got {n_startup_trials}"
            raise ConfigError(Key("tuner", "n_startup_trials"), why)
        super().__init__(space, seed, name or bo_name("optuna", sampler), task, folder)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.sampler = sampler
        self.n_startup_trials = n_startup_trials
        self.adopt = adopt
        self.distributions = distributions(space)
        self._tpe: Any = None  # TPE's sampler, reseeded each round (see _make_sampler)
        self.study = optuna.create_study(direction="minimize", sampler=self._make_sampler())
        self._asked: Any = None  # the Optuna trial of the last ask, until it is held
        self._running: dict[int, Any] = {}  # round -> its Optuna trial, held and not settled
        self._cursor = EventCursor()  # how far the Optuna study follows the ledger

    def ask(self) -> Proposal:
        self._follow()
        self.study.sampler = self._make_sampler()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna's ExperimentalWarning for GPSampler
            trial = self.study.ask(self.distributions)
        self._asked = trial
        return Proposal(from_optuna(self.space, trial.params), {"sampler": self.sampler})

    def _follow(self) -> None:
        """Bring the Optuna study up to the ledger, event by event, as they happened."""
        for event in self._cursor.unread(self.ledger):
            if event.kind == "held":
                self._hold(event.record)
            else:
                self._tell(event.record)

    def _hold(self, record: TrialRecord) -> None:
        """A held round keeps its Optuna trial RUNNING until settled. The trial of the last
        ask is the round's where the round evaluates what it proposed (or nothing: an invalid
        round), or, with `adopt`, whatever it evaluated; otherwise a proposal asked (a
        hybrid's advice) and not taken is dropped as FAIL, which
        the samplers ignore, so a resumed study, which never asked it, sees the same history.
        Any other round (replayed, or another tuner's) gets a RUNNING trial with its
        configuration."""
        asked, self._asked = self._asked, None
        params = None if record.config is None else to_optuna(self.space, record.config)
        if asked is None and self.sampler in STATEFUL_SAMPLERS and self.owns(record):
            asked = self._ask_again(record.round, record.config)
        same = asked is not None and self._runs(asked.params, record.config)
        if asked is not None and (params is None or same or self.adopt):
            if params is not None and not same:
                self._set_params(asked, params)
            self._running[record.round] = asked
            return
        if asked is not None:
            from optuna.trial import TrialState

            self.study.tell(asked, state=TrialState.FAIL)
        if params is not None:
            self.study.enqueue_trial(params)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._running[record.round] = self.study.ask(self.distributions)

    def _set_params(self, trial: Any, params: dict[str, Any]) -> None:
        """Give a RUNNING trial the parameters that were evaluated in its round (`adopt`)."""
        for name, value in params.items():
            distribution = self.distributions[name]
            internal = distribution.to_internal_repr(value)
            self.study._storage.set_trial_param(trial._trial_id, name, internal, distribution)

    def _runs(self, params: dict[str, Any], config: dict[str, Any] | None) -> bool:
        """Optuna's parameters are the configuration the round ran: compared in the space's
        terms, since a logit value's log-odds and back may differ in the last digit."""
        return config is not None and same_config(from_optuna(self.space, params), config)

    def _ask_again(self, round_index: int, config: dict[str, Any] | None) -> Any:
        """Replaying a round this tuner proposed, ask its sampler again, seeded as it was
        live: a stateful sampler writes its state into the trial as it did then."""
        self.study.sampler = self._make_sampler(round_index)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trial = self.study.ask(self.distributions)
        if config is not None and not self._runs(trial.params, config) and not self.adopt:
            log.warning(
                "%s proposed %s on replay of round %d where the log has %s (another Optuna "
                "or cmaes version?); the logged configuration is told instead",
                self.sampler, from_optuna(self.space, trial.params), round_index, config,
            )  # fmt: skip
        return trial

    def _tell(self, record: TrialRecord) -> None:
        import optuna
        from optuna.trial import TrialState

        trial = self._running.pop(record.round, None)
        if record.config is None:  # an invalid proposal: nothing was evaluated
            if trial is not None:
                self.study.tell(trial, state=TrialState.FAIL)
            return
        ok = record.status == "ok" and record.value is not None
        state, value = (TrialState.COMPLETE, record.value) if ok else (TrialState.FAIL, None)
        if record.status == "pruned":  # TPE ranks pruned trials by how far their curve got
            state = TrialState.PRUNED
        curve = {int(step): v for step, v in record.curve} if state == TrialState.PRUNED else {}
        params = to_optuna(self.space, record.config)
        stored = None if trial is None else self.study._storage.get_trial_params(trial._trial_id)
        if stored is not None and self._runs(stored, record.config):
            for step, intermediate in curve.items():
                trial.report(intermediate, step)
            self.study.tell(trial, value, state=state)
            return
        if trial is not None:  # evaluated something else than Optuna proposed
            self.study.tell(trial, state=TrialState.FAIL)
        self.study.add_trial(
            optuna.trial.create_trial(
                params=params,
                distributions=self.distributions,
                value=value,
                state=state,
                intermediate_values=curve,
            )
        )

    def _make_sampler(self, round_index: int | None = None) -> Any:
        """The sampler for this round (or `round_index`'s), seeded from (seed, round). TPE's
        is built once and reseeded after, which leaves it as a new one of that seed would be:
        building one per round cost more than a cheap objective's whole trial (Optuna
        inspects its signature and makes two generators each time), and lost its search-space
        cache. CMA-ES keeps its state in the trials, so a new one per round is the same one."""
        import optuna

        seed = self.round_seed(round_index)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.sampler == "gp":
                return optuna.samplers.GPSampler(seed=seed, n_startup_trials=self.n_startup_trials)
            if self.sampler == "cmaes":  # categorical parameters: the independent sampler's
                return optuna.samplers.CmaEsSampler(
                    seed=seed,
                    n_startup_trials=self.n_startup_trials,
                    independent_sampler=optuna.samplers.RandomSampler(seed=seed),
                    warn_independent_sampling=False,
                )
            if _reseed_tpe(self._tpe, seed):
                return self._tpe
            startup = self.n_startup_trials
            # constant liar: the trials still running (a batch's, or other workers') count as
            # the worst result so far, so TPE does not propose their region again
            self._tpe = optuna.samplers.TPESampler(
                seed=seed, n_startup_trials=startup, constant_liar=True
            )
        return self._tpe


def _reseed_tpe(sampler: Any, seed: int) -> bool:
    """Reseed a TPESampler's two generators (its own, its random sampler's) as its
    constructor seeds them; False where this Optuna keeps them elsewhere (then build anew)."""
    generators = [getattr(sampler, "_rng", None)]
    generators.append(getattr(getattr(sampler, "_random_sampler", None), "_rng", None))
    if sampler is None or not all(hasattr(g, "rng") for g in generators):
        return False
    for generator in generators:
        generator.rng.seed(seed)
    return True
