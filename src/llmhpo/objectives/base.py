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


class Objective(Protocol):
    """Evaluates one configuration. Raising marks the trial as failed."""

    name: str

    @property
    def search_space(self) -> SearchSpace | None:
        """The space this objective brings with it (toy functions), or None."""
        ...

    def evaluate(self, config: dict[str, Any]) -> Evaluation: ...
