"""What an objective reports while a trial runs: its learning curve, step by step.

An objective calls `report(step, value)` as it goes (the training objective after each
epoch, with the validation error; a scikit-learn model after each pass): the study adds the
point to the trial's curve in the trial log and asks the pruner whether the trial is worth
finishing. When the pruner says stop, `report` raises `TrialPruned`, which the study catches
and logs as a pruned trial at that step. Outside a study (a test, a notebook) `report` does
nothing, so an objective reports unconditionally. Steps count what the trial has spent
(epochs done, passes over the data): 0, 1, 2, ..., each a whole number, increasing.

A report from a thread the objective started (a training loop in a thread pool) reaches the
trial too, as long as it is the only trial running in the process (the CLI, `optimize`);
where several run at once, such a report cannot be told apart and is dropped with a warning
(report through `trial.report` there). Every door checks a step and a value with the same
`as_step` and `as_value`, so nothing reaches the trial log that a resumed study would refuse.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from llmhpo.errors import ConfigError

# Takes (step, value); returns whether the trial is to be stopped.
Reporter = Callable[[int, float], bool]

_REPORTER: ContextVar[Reporter | None] = ContextVar("llmhpo_reporter", default=None)
# The reporters of the trials running in this process, for threads the objective started
# (a new thread does not inherit the context variable).
_RUNNING: list[Reporter] = []
_RUNNING_LOCK = threading.Lock()
_WARNED_UNKNOWN_THREAD = False


class TrialPruned(Exception):  # noqa: N818  (Optuna's name for the same signal)
    """The pruner stopped the trial at `step`: the study logs it as pruned and goes on."""

    def __init__(self, step: int | None = None):
        self.step = step
        super().__init__("pruned" if step is None else f"pruned at step {step}")


def is_pruned_signal(error: BaseException) -> bool:
    """Whether an objective stopped its trial as pruned: llmhpo's TrialPruned, or Optuna's
    (code moved from Optuna raises it), without importing Optuna where nothing did."""
    if isinstance(error, TrialPruned):
        return True
    optuna_exceptions = sys.modules.get("optuna.exceptions")
    return optuna_exceptions is not None and isinstance(error, optuna_exceptions.TrialPruned)


def failure_text(error: BaseException) -> str:
    """Why an objective's exception failed its trial, as the trial log says it; a pruned
    signal before any reported step is a failed trial too (there is no step it stopped at)."""
    if is_pruned_signal(error):
        return (
            f"{type(error).__name__} was raised before any step was reported: a trial stopped "
            "before its first step is a failed one (report a step before stopping it)"
        )
    return f"{type(error).__name__}: {error}"


def as_step(step: Any) -> int:
    """A curve's step as a whole number >= 0 (numpy integers and 2.0 are fine), or ConfigError:
    a bool, 0.25, "2" or -1 would be truncated, misread or refused when the log is replayed."""
    step = _plain(step)
    whole = isinstance(step, numbers.Integral) or (
        isinstance(step, numbers.Real) and math.isfinite(step) and float(step).is_integer()
    )
    if isinstance(step, bool) or not whole or step < 0:
        raise ConfigError(f"report takes the step as a whole number >= 0, got {step!r}")
    return int(step)


def as_value(value: Any, what: str = "report takes the trial's metric") -> float:
    """A metric as a float: a Python or numpy number, or a 0-d numpy array or torch tensor (a
    PyTorch loss); ConfigError for anything else (a bool, "0.5", a list). Not checked for
    being finite: the caller decides what a NaN means."""
    plain = _plain(value)
    if isinstance(plain, bool) or not isinstance(plain, numbers.Real):
        raise ConfigError(f"{what} as a number, got {value!r} ({type(value).__name__})")
    return float(plain)


def point_problem(curve: list[list[float]], step: int, value: float) -> str | None:
    """What is wrong with a checked step and value as the next point of `curve` (a step not
    above the last one, a value that is not finite), or None: the study refuses such a point
    before it reaches the log, and a worker before it leaves the trial."""
    if curve and step <= curve[-1][0]:
        last = curve[-1][0]
        return f"step {step} reported after step {last}; report each step once, in increasing order"
    if not math.isfinite(value):
        return (
            f"step {step} reported a non-finite value ({value}); tell the trial as failed instead"
        )
    return None


def _plain(value: Any) -> Any:
    """A 0-d array or tensor as the Python number it holds; anything else as it is."""
    if getattr(value, "shape", None) == () and callable(getattr(value, "item", None)):
        return value.item()
    return value


def report(step: int, value: float) -> None:
    """Report the trial's value after `step` steps; raises TrialPruned when the study's pruner
    stops the trial there. Does nothing outside a study.

    Args:
        step: how far the trial has got (epochs done: 1, 2, ...), a whole number >= 0,
            increasing with each report.
        value: the metric there, as the objective returns it (a float, a numpy number or a
            0-d tensor).
    """
    reporter = _reporter_here()
    if reporter is not None and reporter(step, value):
        raise TrialPruned(as_step(step))


def listening() -> bool:
    """Whether a study hears `report` here: an objective whose curve costs work of its own
    (lr's staged fits) does that work only then, and trains in one go elsewhere."""
    return _reporter_here() is not None


def _reporter_here() -> Reporter | None:
    """The reporter of the trial this code runs for: the context's (the objective's own
    thread), else the only trial running in the process (a thread the objective started)."""
    reporter = _REPORTER.get()
    if reporter is not None:
        return reporter
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    if len(running) == 1:
        return running[0]
    if len(running) > 1:
        _warn_unknown_thread(len(running))
    return None


def _warn_unknown_thread(running: int) -> None:
    global _WARNED_UNKNOWN_THREAD
    if not _WARNED_UNKNOWN_THREAD:
        _WARNED_UNKNOWN_THREAD = True
        warnings.warn(
            f"llmhpo.report was called from a thread that no study started while {running} "
            "trials run in this process, so it cannot tell which trial it belongs to; the "
            "report is dropped. Report through the Trial (trial.report) in such code.",
            RuntimeWarning,
            stacklevel=3,
        )


@contextlib.contextmanager
def reporting_to(reporter: Reporter) -> Iterator[None]:
    """Within the block, `report` goes to `reporter` (the study's, for the trial it runs), from
    this thread and, while no other trial runs in the process, from the threads it starts."""
    token = _REPORTER.set(reporter)
    with _RUNNING_LOCK:
        _RUNNING.append(reporter)
    try:
        yield
    finally:
        with _RUNNING_LOCK:
            _RUNNING.remove(reporter)
        _REPORTER.reset(token)
