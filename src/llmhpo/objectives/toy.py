"""The paper's 2-D toy functions, for testing tuners in milliseconds.

Definitions, domains, optima and the shift follow the paper's notebook: the
quadratics are (x - c)^T A (x - c), and the `shifted_` variants move the
function (not its domain) by (0.93, 0.59) so a model cannot recite a memorised
optimum. Optima that a shift pushes out of the domain are dropped; the minimum
value inside the domain is unchanged for all of them.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from llmhpo.errors import ConfigError
from llmhpo.objectives.base import Evaluation, TaskInfo
from llmhpo.space import FloatParam, SearchSpace

ArrayFn = Callable[[Any, Any], Any]
SHIFT = (0.93, 0.59)


@dataclass(frozen=True)
class ToyFunction:
    """A 2-D test function with its box domain and known global minimum."""

    name: str
    fn: ArrayFn
    x1_range: tuple[float, float]
    x2_range: tuple[float, float]
    optima: tuple[tuple[float, float], ...]
    minimum: float

    def __call__(self, x1: Any, x2: Any) -> Any:
        """Vectorised over numpy arrays, so plots can evaluate a whole grid."""
        return self.fn(x1, x2)

    def maximum(self) -> float:
        """The largest value on a 201 x 201 grid over the domain (the corners included)."""
        grid = np.meshgrid(np.linspace(*self.x1_range, 201), np.linspace(*self.x2_range, 201))
        return float(np.max(self(*grid)))

    def search_space(self) -> SearchSpace:
        """The domain; its default (for tuner.start_at_default) is the domain's centre: a toy
        function has no library default, and the centre is where one knows nothing."""
        centre = {"x1": sum(self.x1_range) / 2, "x2": sum(self.x2_range) / 2}
        return SearchSpace(
            [FloatParam("x1", *self.x1_range), FloatParam("x2", *self.x2_range)],
            name=f"toy2d-{self.name}",
            default=centre,
        )

    def shifted(self, shift: tuple[float, float] = SHIFT) -> ToyFunction:
        dx, dy = shift
        moved = tuple((x + dx, y + dy) for x, y in self.optima)
        inside = tuple(
            (x, y)
            for x, y in moved
            if self.x1_range[0] <= x <= self.x1_range[1]
            and self.x2_range[0] <= y <= self.x2_range[1]
        )
        return ToyFunction(
            f"shifted_{self.name}",
            lambda x1, x2: self.fn(x1 - dx, x2 - dy),
            self.x1_range,
            self.x2_range,
            inside,
            self.minimum,
        )


def _rosenbrock(x1: Any, x2: Any) -> Any:
    return (1 - x1) ** 2 + 100 * (x2 - x1**2) ** 2


def _branin(x1: Any, x2: Any) -> Any:
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * np.cos(x1) + 10


def _himmelblau(x1: Any, x2: Any) -> Any:
    return (x1**2 + x2 - 11) ** 2 + (x1 + x2**2 - 7) ** 2


def _ackley(x1: Any, x2: Any) -> Any:
    return (
        -20 * np.exp(-0.2 * np.sqrt(0.5 * (x1**2 + x2**2)))
        - np.exp(0.5 * (np.cos(2 * math.pi * x1) + np.cos(2 * math.pi * x2)))
        + math.e
        + 20
    )


QUADRATIC_OPTIMUM = (-4.15, 3.35)


def _quadratic(curvature_x1: float, curvature_x2: float) -> ArrayFn:
    cx, cy = QUADRATIC_OPTIMUM
    return lambda x1, x2: curvature_x1 * (x1 - cx) ** 2 + curvature_x2 * (x2 - cy) ** 2


_BASE = [
    ToyFunction("rosenbrock", _rosenbrock, (-5.0, 10.0), (-5.0, 10.0), ((1.0, 1.0),), 0.0),
    ToyFunction(
        "branin",
        _branin,
        (-5.0, 10.0),
        (0.0, 15.0),
        ((-math.pi, 12.275), (math.pi, 2.275), (3 * math.pi, 2.475)),
        5 / (4 * math.pi),  # 10 / (8 pi) = 0.397887..., reached at all three optima
    ),
    ToyFunction(
        "himmelblau",
        _himmelblau,
        (-5.0, 5.0),
        (-5.0, 5.0),
        ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)),
        0.0,
    ),
    ToyFunction("ackley", _ackley, (-5.0, 5.0), (-5.0, 5.0), ((0.0, 0.0),), 0.0),
]
_QUADRATICS = [
    ToyFunction(
        "quadratic2d", _quadratic(1, 1), (-5.0, 5.0), (-5.0, 5.0), (QUADRATIC_OPTIMUM,), 0.0
    ),
    ToyFunction(
        "quadratic2d_10", _quadratic(1, 10), (-5.0, 5.0), (-5.0, 5.0), (QUADRATIC_OPTIMUM,), 0.0
    ),
]

TOY_FUNCTIONS: dict[str, ToyFunction] = {
    f.name: f for f in [*_BASE, *_QUADRATICS, *(g.shifted() for g in _BASE)]
}


def get_toy_function(name: str) -> ToyFunction:
    try:
        return TOY_FUNCTIONS[name]
    except KeyError:
        raise ConfigError(
            f"unknown toy function {name!r}; choose objective.function from {sorted(TOY_FUNCTIONS)}"
        ) from None


class ToyObjective:
    """`objective=toy`: evaluate f(x1, x2) and report the regret against the known minimum."""

    test = None  # a function has no test split

    def __init__(self, function: str, name: str | None = None, delay_seconds: float = 0.0):
        """`delay_seconds` makes each trial take that long, to mimic a training run's cost
        when trying launchers, parallelism or a kill and resume on cheap functions."""
        if delay_seconds < 0:
            raise ConfigError(f"objective.delay_seconds must be >= 0, got {delay_seconds}")
        self.function = get_toy_function(function)
        self.name = name or f"toy-{function}"
        self.delay_seconds = delay_seconds

    @property
    def search_space(self) -> SearchSpace:
        return self.function.search_space()

    @functools.cached_property
    def task(self) -> TaskInfo:
        """The paper's toy-function wording; once per objective (its worst value is a grid max)."""
        return TaskInfo(
            intro="You are optimizing a function with two inputs.",
            feedback=(("Loss", "value"),),
            feedback_phrase="value of the function",
            goal_phrase="loss of the function",
            worst_value=self.function.maximum(),
        )

    def evaluate(self, config: dict[str, Any]) -> Evaluation:
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        value = float(self.function(float(config["x1"]), float(config["x2"])))
        return Evaluation(value, {"value": value, "regret": value - self.function.minimum})
