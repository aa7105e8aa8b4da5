"""The contract between the study loop and whatever a trial evaluates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from llmhpo.space import SearchSpace


@dataclass(frozen=True)
class Evaluation:
    """The outcome of one trial.

    `value` is the single number every tuner minimises (validation error for a
    training trial, f(x) for a toy function); `metrics` carries everything
    else worth logging (loss, regret, test error, ...).
    """

    value: float
    metrics: dict[str, Any] = field(default_factory=dict)


def tuning_intro(subject: str) -> str:
    """The reference's first sentence, for any subject: written here and nowhere else."""
    return f"You are helping tune hyperparameters for {subject}."


@dataclass(frozen=True)
class TaskInfo:
    """How an objective is described to an LLM tuner, and which of its metrics it is shown.

    `feedback` pairs a label with a metric key, e.g. ("Error Rate", "val_error");
    the phrases slot into the prompts' sentences ("You will get the {feedback_phrase}
    ...", "minimizes the {goal_phrase}").
    """

    intro: str
    feedback: tuple[tuple[str, str], ...]
    feedback_phrase: str
    goal_phrase: str
    worst_value: float | None = None  # the largest value a trial can report (a failed trial's cost)
    best_value: float | None = None  # the least value a trial can report (0 for an error rate)
    direction: str = "minimize"  # of the metric shown: "maximize" for an accuracy (the API)
    step_name: str = "step"  # what a step of a reported curve is: an epoch, an iteration


def error_rate_task(model: str, dataset: str) -> TaskInfo:
    """A classifier tuned on its validation error rate, without a loss to show (HPOBench's
    tables, scikit-learn models): the model and the data named by their descriptions."""
    return TaskInfo(
        intro=tuning_intro(f"{model} trained on {dataset}"),
        feedback=(("Error Rate", "val_error"),),
        feedback_phrase="validation error rate",
        goal_phrase="error rate",
        worst_value=1.0,
        best_value=0.0,
    )


METRIC_KEY = "metric"  # a caller's own value, as reported, in each trial's metrics


def metric_task(description: str | None, metric: str, direction: str) -> TaskInfo:
    """The caller's own objective (the Python API, Optuna's LLMSampler): one metric, named as
    the caller names it, minimised or maximised."""
    return TaskInfo(
        intro=tuning_intro(description or "a machine learning model"),
        feedback=((metric, METRIC_KEY),),
        feedback_phrase=metric,
        goal_phrase=metric,
        direction=direction,
    )


class Objective(Protocol):
    """Evaluates one configuration. Raising marks the trial as failed.

    An objective may also have `initial_configs`, a list of configurations every tuner
    evaluates first (a benchmark's fixed starting points, as Bayesmark's in LLAMBO's
    experiments), read where the study is assembled."""

    name: str
    # Test-split metrics ("test_*" keys) of a configuration, called by the study for its best
    # one at the end (it may retrain); None for an objective without a test split.
    test: Callable[[dict[str, Any]], dict[str, Any]] | None

    @property
    def search_space(self) -> SearchSpace | None:
        """The space this objective brings with it (toy functions), or None."""
        ...

    @property
    def task(self) -> TaskInfo:
        """What an LLM is told about this objective."""
        ...

    def evaluate(self, config: dict[str, Any]) -> Evaluation: ...
