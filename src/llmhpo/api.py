"""The public Python API: tune your own code with any of llmhpo's tuners.

    import llmhpo

    space = llmhpo.SearchSpace.from_dict({
        "lr": {"type": "float", "low": 1e-5, "high": 0.1, "log": True},
        "act": {"type": "categorical", "choices": ["relu", "tanh"]},
    })
    study = llmhpo.Study(space, tuner="llm", llm="local", budget=20, seed=0,
                         folder="runs/mine", task_description="a small MLP on my data",
                         direction="maximize", metric="validation accuracy")
    study.optimize(train)                # train(config: dict) -> float
    # or by hand: trial = study.ask(); study.tell(trial, train(trial.config))

The study is the CLI's own loop (`llmhpo.study.StudyLoop`) with the caller evaluating: the
folder gets the same trials.jsonl, summary.json and study.json, so the same script run again
resumes where a killed one stopped, and `scripts/aggregate.py` reads it. Tuners and their
options are the config's: `tuner` names a file of `conf/tuner/`, its keys are keywords, and
`llm` names a file of `conf/llm/` or gives its keys as a dict (composed in llmhpo/assemble/).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf, open_dict

from llmhpo.assemble import code_config, opened_study
from llmhpo.checks import whole_number
from llmhpo.errors import ConfigError, spoken_by
from llmhpo.objectives.base import METRIC_KEY, metric_task
from llmhpo.progress import as_value
from llmhpo.space import SearchSpace
from llmhpo.store.folder import relabel
from llmhpo.store.naming import with_tuner_llm, without_neutral_keys
from llmhpo.store.trial_log import TrialRecord, TrialRequest
from llmhpo.study.evaluate import FunctionCall, run_trial
from llmhpo.study.executor import Executor, executor_node
from llmhpo.study.workers import run_on_workers

log = logging.getLogger(__name__)

DIRECTIONS = ("minimize", "maximize")
# Its public methods' errors name config keys as the Python API spells them
# (`on_invalid='random'`, not the CLI's `tuner.on_invalid=random`).
in_door_terms = spoken_by("api")


@dataclass
class Trial:
    """One configuration to evaluate: `config` (a dict) and its round `number`; while it runs,
    `report` its value after each step, and stop it when `should_prune()` says so."""

    number: int
    config: dict[str, Any]
    request: TrialRequest = field(repr=False)
    study: Study = field(repr=False)
    _stop: bool = field(default=False, repr=False)

    @in_door_terms
    def report(self, step: int, value: float) -> None:
        """The trial's metric after `step` steps (1, 2, ...: epochs done, say): kept as its
        curve in the trial log, and judged by the study's pruner.

        Args:
            step: how far the trial has got, increasing with each report.
            value: the metric there, as `tell` takes it.
        """
        self._stop = self.study._report(self, step, value)

    def should_prune(self) -> bool:
        """Whether the pruner stops the trial at its last reported step: then
        `study.tell(trial, pruned=True)` and go on with the next one."""
        return self._stop


class Study:
    """A study of the caller's own objective: ask/tell, or `optimize(fn)`."""

    @in_door_terms
    def __init__(
        self,
        space: SearchSpace | Mapping[str, Any],
        tuner: str = "random",
        *,
        budget: int = 10,
        seed: int = 0,
        folder: str | Path | None = None,
        llm: str | Mapping[str, Any] | None = None,
        prompt: Mapping[str, Any] | None = None,
        pruner: str | Mapping[str, Any] | None = None,
        task_description: str | None = None,
        direction: str = "minimize",
        metric: str = "loss",
        name: str | None = None,
        on_busy: str = "stop",
        batch_size: int = 1,
        executor: str | Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        folder_hint: str = "pass another folder",
        config_dir: str | Path | None = None,
        **tuner_options: Any,
    ):
        """Open (or resume) a study in `folder`; the same arguments and folder resume it.

        Args:
            space: a SearchSpace, or the dict of its parameters (as under `parameters:` of a
                search-space file).
            tuner: random, bo, bo_gp, smac, llm, hybrid or fixed: a file of conf/tuner/.
            budget: the number of trials; the same folder reopened with a larger budget
                goes on from its log, with a smaller one reports the study finished.
            seed: the study's seed; the same seed proposes the same configurations.
            folder: where the trial log goes (a new temporary folder if None).
            llm: for tuner="llm" or "hybrid": a file of conf/llm/ ("local", the embedded
                model, by default; "openai", ...) or a dict of its keys (with "provider",
                or "preset" to change some of a preset's keys).
            prompt: for tuner="llm" or "hybrid": keys of conf/prompt/ (format, cot, ...).
            pruner: stops trials whose reported curve is hopeless: a file of conf/pruner/
                ("median", "asha", "hyperband") or a dict of its keys with its "name";
                None (every trial runs to its end) by default.
            task_description: what is tuned, in the LLM's prompt ("a small MLP on my data").
            direction: "minimize" or "maximize" the value `tell` is given.
            metric: the value's name, in the prompt and the summary.
            name: the study's name in its summary and the aggregation (studies of one name
                are one task there); by default the objective function's qualified name
                once `optimize` runs it, else the folder's name. A label: the same folder
                reopened under another name is the same study, renamed.
            on_busy: "stop" (raise) or "wait" when another process runs a study in `folder`.
            batch_size: how many trials `ask_batch` hands out at once, for parallel
                evaluation (a study keeps its batch size across resumes).
            executor: where `optimize` runs the trials: None or "inline" (here, one after
                another), "local" (worker processes on this machine) or "slurm" (jobs on a
                SLURM cluster), or a dict of conf/executor/ keys with its "name"
                (`{"name": "local", "workers": 4}`); `fn` must then be picklable (a function
                defined at the top of a module, or a closure cloudpickle can carry).
            context: what else defines the study beyond these arguments (a Hydra sweep's
                fixed overrides and its app's config): recorded in study.json, so that a
                study of another context never resumes this one.
            folder_hint: how the caller picks another folder, said when `folder` is refused.
            config_dir: a folder of config groups of your own, searched beside the shipped
                ones as the CLI's --config-dir is: `tuner="mine"` finds
                `config_dir/tuner/mine.yaml` (see "Writing a tuner" in the docs).
            **tuner_options: keys of the tuner's conf/tuner/ file (sampler=...,
                max_attempts=..., config=..., warm_start=...).

        Raises:
            ConfigError: a mistake in the arguments, a missing extra, or a folder that holds
                another study; nothing is left in a new folder.
            FolderBusyError: another process runs a study in `folder` (on_busy="stop").
        """
        self.space = space if isinstance(space, SearchSpace) else SearchSpace.from_dict(space)
        if direction not in DIRECTIONS:
            raise ConfigError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
        self.direction, self.metric = direction, metric
        self.budget = whole_number(budget, "budget", "the number of trials")
        self.seed = whole_number(seed, "seed", "0 is a valid seed", minimum=0)
        batch_size = whole_number(batch_size, "batch_size", "trials evaluated at once")
        self.folder = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="llmhpo-study-"))
        cfg = code_config(
            tuner, self.budget, self.seed, llm, prompt, pruner, tuner_options, config_dir
        )
        with open_dict(cfg):
            cfg.executor = executor_node(executor)
        record = with_tuner_llm(
            {
                "objective": {
                    "name": name or self.folder.name,
                    "metric": metric,
                    "direction": direction,
                },
                "search_space": self.space.to_config(),
                **OmegaConf.to_container(cfg, resolve=True),
            }
        )
        if task_description is not None and "prompt" in record:
            # It reaches the LLM through the task (metric_task), as its intro; the record
            # keeps it in the study's prompt, where studies have recorded it from the start.
            record["prompt"] = {**record["prompt"], "task_description": task_description}
        record = without_neutral_keys(record)
        del record["executor"]  # how the trials run, not which study it is
        batch_size = max(batch_size, Executor.from_config(cfg.executor).batch_size)
        if batch_size > 1:  # a batch's proposals depend on its size: resume keeps it
            record["batch_size"] = batch_size
        if context:
            record["context"] = dict(context)
        self._lock = contextlib.ExitStack()  # the folder's lock, held until finish()
        self._loop = self._lock.enter_context(
            opened_study(
                cfg,
                self.folder,
                record,
                on_busy=on_busy,
                hint=folder_hint,
                space=self.space,
                task=metric_task(task_description, metric, direction),
                name=name or self.folder.name,
                batch_size=batch_size,
            )  # fmt: skip
        )
        self._named = name is not None

    @in_door_terms
    def ask(self) -> Trial | None:
        """The next configuration to evaluate, or None when the budget is spent (a study of
        batch size 1)."""
        request = self._loop.ask()
        return (
            None if request is None else Trial(request.round, dict(request.config), request, self)
        )

    @in_door_terms
    def ask_batch(self) -> list[Trial]:
        """Up to `batch_size` configurations to evaluate at once (each proposed knowing every
        result before the batch); empty when the budget is spent. Tell each one's result."""
        return [Trial(r.round, dict(r.config), r, self) for r in self._loop.ask_batch()]

    def curve(self, trial: Trial) -> list[list[float]]:
        """The steps `trial` has reported so far, as [step, value] pairs in what the tuners
        minimise (the metric negated where direction is maximize)."""
        return self._loop.curve(trial.request)

    @in_door_terms
    def tell(
        self,
        trial: Trial,
        value: float | None = None,
        *,
        failed: str | None = None,
        pruned: bool = False,
    ) -> None:
        """Log the result of a trial and let the tuner learn from it.

        Args:
            trial: the Trial that `ask` or `ask_batch` returned.
            value: its metric (as `direction` says: larger is better where "maximize").
            failed: why the trial failed, instead of a value; the study goes on.
            pruned: the trial was stopped after its last `report` (its metric is that
                step's), as `trial.should_prune()` asked.
        """
        if not isinstance(trial, Trial):
            raise TypeError(f"tell takes the Trial that ask returned, got {type(trial).__name__}")
        if failed is not None:
            self._loop.tell(trial.request, error=str(failed))
            return
        if pruned:
            if value is not None:
                raise ConfigError(
                    f"tell(trial, {value!r}, pruned=True): a pruned trial's value is its last "
                    "reported step's; report the value as a step (trial.report(step, value)), "
                    "then tell the trial pruned without one"
                )
            curve = self.curve(trial)
            reported = curve[-1][1] * self._sign if curve else None
            self._loop.tell(trial.request, pruned=True, metrics={METRIC_KEY: reported})
            return
        if value is None:
            raise ConfigError("tell needs the trial's value, or failed='why' for a failed trial")
        value = as_value(value, "tell takes the trial's value (or failed='why' for a failed trial)")
        self._loop.tell(trial.request, self._sign * value, {METRIC_KEY: value})

    @property
    def _sign(self) -> float:
        """What turns the caller's metric into the value the tuners minimise, and back."""
        return -1.0 if self.direction == "maximize" else 1.0

    def _report(self, trial: Trial, step: Any, value: Any) -> bool:
        """A step of a running trial, for `Trial.report` and `llmhpo.report`; returns whether
        the pruner stops the trial there. Step and value are checked as every door checks
        them (`progress.as_step`, `as_value`)."""
        return self._loop.report(trial.request, step, self._sign * as_value(value))

    @in_door_terms
    def optimize(self, fn: Callable[[dict[str, Any]], float]) -> dict[str, Any]:
        """Evaluate `fn(config)` until the budget is spent, then finish.

        Args:
            fn: takes a configuration (a dict) and returns its metric; an exception is a
                failed trial, logged, and the study goes on.

        Returns:
            The summary, as written to summary.json.
        """
        try:
            if not self._named:
                self._name_after(fn)
            call = FunctionCall(fn, self._sign)
            if self._loop.executor.name != "inline":
                run_on_workers(self._loop, call, self._loop.executor)
            else:
                while (trial := self.ask()) is not None:
                    reporter = functools.partial(self._loop.report, trial.request)
                    outcome = run_trial(call, trial.config, reporter, trial.number)
                    self._loop.tell_outcome(trial.request, outcome)
        except BaseException:  # the study stops (Ctrl-C, a tuner that gave up): free its folder
            self._release()
            raise
        return self.finish()

    @in_door_terms
    def finish(self) -> dict[str, Any]:
        """Write summary.json and release the folder; returns the summary."""
        try:
            # best_value in summary.json is what the tuners minimised (the metric negated where
            # direction is maximize); the metric as reported is beside it.
            return self._loop.finish(
                {"direction": self.direction, "metric": self.metric, "best_metric": self.best_value}
            )
        finally:
            self._release()

    def _name_after(self, fn: Callable[..., Any]) -> None:
        """A study opened without a name is named after the function it optimises (its
        qualified name; a callable without one leaves it the folder's name), so that the
        aggregation tells studies of different functions apart."""
        qualified = getattr(fn, "__qualname__", None)
        if isinstance(qualified, str):
            relabel(self.folder, ("objective", "name"), qualified)
            self._loop.name = qualified

    def _release(self) -> None:
        """Close the trial log (fsyncing what it holds) and release the folder's lock; the
        folder can be opened again, in this process or another."""
        self._loop.trial_log.close()
        self._lock.close()

    @property
    def trials(self) -> list[TrialRecord]:
        """Every finished round so far (as in trials.jsonl)."""
        return list(self._loop.resume())

    @property
    def best_trial(self) -> TrialRecord | None:
        ok = [r for r in self.trials if r.status == "ok" and r.value is not None]
        return min(ok, key=lambda r: r.value) if ok else None

    @property
    def best_config(self) -> dict[str, Any] | None:
        best = self.best_trial
        return None if best is None else best.config

    @property
    def best_value(self) -> float | None:
        """The best metric value as reported (the largest where direction is maximize)."""
        best = self.best_trial
        if best is None:
            return None
        return best.metrics.get(METRIC_KEY, self._sign * best.value)  # a line written by hand
