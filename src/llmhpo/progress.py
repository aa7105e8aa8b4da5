"""What an objective reports while a trial runs: its learning curve, step by step.

An objective calls `report(step, value)` as it goes (the training objective after each
epoch, with the validation error; a scikit-learn model after each pass): the study adds the
point to the trial's curve in the trial log and asks the pruner whether the trial is worth
finishing. When the pruner says stop, `report` raises `TrialPruned`, which the study catches
and logs as a pruned trial at that step. Outside a study (a test, a notebook) `report` does
nothing, so an objective reports unconditionally. Steps count what the trial has spent
(epochs done, passes over the data): 1, 2, 3, ...
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

# Takes (step, value); returns whether the trial is to be stopped.
Reporter = Callable[[int, float], bool]

_REPORTER: ContextVar[Reporter | None] = ContextVar("llmhpo_reporter", default=None)


class TrialPruned(Exception):  # noqa: N818  (Optuna's name for the same signal)
    """The pruner stopped the trial at `step`: the study logs it as pruned and goes on."""

    def __init__(self, step: int):
        self.step = step
        super().__init__(f"pruned at step {step}")


def report(step: int, value: float) -> None:
    """Report the trial's value after `step` steps; raises TrialPruned when the study's pruner
    stops the trial there. Does nothing outside a study."""
    reporter = _REPORTER.get()
    if reporter is not None and reporter(int(step), float(value)):
        raise TrialPruned(int(step))


def listening() -> bool:
    """Whether a study hears `report` here: an objective whose curve costs work of its own
    (lr's staged fits) does that work only then, and trains in one go elsewhere."""
    return _REPORTER.get() is not None


@contextlib.contextmanager
def reporting_to(reporter: Reporter) -> Iterator[None]:
    """Within the block, `report` goes to `reporter` (the study's, for the trial it runs)."""
    token = _REPORTER.set(reporter)
    try:
        yield
    finally:
        _REPORTER.reset(token)
