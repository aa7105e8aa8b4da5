"""One trial's evaluation, wherever it runs: the objective called on a configuration, its
reported curve, and what came of it (`Outcome`).

The same `run_trial` runs in the study's own process (executor=inline) and in a worker
(executor=local or slurm, through submitit): a value, a failure (the objective raised; the
study goes on) or a stop by the pruner after a reported step. `Call` says what is called and
how its result becomes the value the tuners minimise: a CLI objective (`ObjectiveCall`) or a
caller's function (`FunctionCall`, the Python API's `optimize`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from llmhpo.errors import ConfigError
from llmhpo.objectives.base import METRIC_KEY, Evaluation, Objective
from llmhpo.progress import (
    Reporter,
    as_step,
    as_value,
    failure_text,
    is_pruned_signal,
    reporting_to,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What came of a trial: its value and metrics; or `error`, why it failed; or `pruned`,
    stopped after its last reported step (`metrics` then holds that step's metric). `curve`:
    the [step, value] pairs it reported, in what the tuners minimise."""

    value: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    pruned: bool = False
    curve: list[list[float]] = field(default_factory=list)


class Call(Protocol):
    """What a trial calls: `__call__` runs it on a configuration; `result` turns what it
    returned into (value, metrics), refusing what is not a metric (a mistake in the caller's
    code stops the study, where an exception in the trial only fails the trial); `sign` turns
    a reported metric into what the tuners minimise; `pruned_metrics` names the metric of a
    trial stopped at a reported value."""

    sign: float

    def __call__(self, config: dict[str, Any]) -> Any: ...

    def result(self, returned: Any) -> tuple[float, dict[str, Any]]: ...

    def pruned_metrics(self, last: float) -> dict[str, Any]: ...


class ObjectiveCall:
    """A configured objective (the CLI's): its Evaluation's value and metrics."""

    sign = 1.0

    def __init__(self, objective: Objective):
        self.objective = objective

    def __call__(self, config: dict[str, Any]) -> Evaluation:
        return self.objective.evaluate(config)

    def result(self, returned: Evaluation) -> tuple[float, dict[str, Any]]:
        return returned.value, returned.metrics

    def pruned_metrics(self, last: float) -> dict[str, Any]:
        """The metric the prompt shows, at the step the trial was stopped."""
        return {self.objective.task.feedback[0][1]: last}


class FunctionCall:
    """A caller's function of a configuration, returning its metric (negated where the study
    maximises, so that the tuners minimise it)."""

    def __init__(self, fn: Any, sign: float):
        self.fn, self.sign = fn, sign

    def __call__(self, config: dict[str, Any]) -> Any:
        return self.fn(dict(config))

    def result(self, returned: Any) -> tuple[float, dict[str, Any]]:
        if returned is None:
            raise ConfigError("the objective function returned None: return the trial's metric")
        value = as_value(returned, "the objective function must return the trial's metric")
        return self.sign * value, {METRIC_KEY: value}

    def pruned_metrics(self, last: float) -> dict[str, Any]:
        return {METRIC_KEY: self.sign * last}


def run_trial(call: Call, config: dict[str, Any], reporter: Reporter, round_index: int) -> Outcome:
    """Evaluate `config` with `call`, sending each reported step to `reporter` (in what the
    tuners minimise), which says whether the pruner stops the trial there. An exception is a
    failed trial, never a stopped study."""
    curve: list[list[float]] = []

    def report(step: Any, value: Any) -> bool:
        point = [as_step(step), call.sign * as_value(value)]
        stop = reporter(*point)  # checked there (order, finite) before it joins the curve
        curve.append(point)
        return stop

    try:
        with reporting_to(report):
            returned = call(config)
    except Exception as error:  # a failing trial is data, not a reason to stop the study
        if is_pruned_signal(error) and curve:
            return Outcome(metrics=call.pruned_metrics(curve[-1][1]), pruned=True, curve=curve)
        log.exception("Trial %d failed", round_index)
        return Outcome(error=failure_text(error), curve=curve)
    value, metrics = call.result(returned)
    return Outcome(value, metrics, curve=curve)
