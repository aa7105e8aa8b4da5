"""The contract between the study loop and whatever a trial evaluates."""

from __future__ import annotations

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


class Objective(Protocol):
    """Evaluates one configuration. Raising marks the trial as failed."""

    name: str

    @property
    def search_space(self) -> SearchSpace | None:
        """The space this objective brings with it (toy functions), or None."""
        ...

    @property
    def task(self) -> TaskInfo:
        """What an LLM is told about this objective."""
        ...

    def evaluate(self, config: dict[str, Any]) -> Evaluation: ...
