"""A search space in Optuna's terms and back: distributions, parameters and configurations.

Beside the Optuna tuner (tuners/bo.py), as ConfigSpace's translation is beside SMAC's; the
other direction (an Optuna study's distributions as llmhpo's parameters) is the Optuna
sampler's (integrations/optuna.py), kept here so that both directions are read together. A
grid parameter (a tabular benchmark's) becomes its position on the grid: Optuna has no
ordinal distribution, and its categorical one forgets the order that TPE and the GP can
use; positions are evenly spaced in the grid's own scale (log where log), so the index is
the natural coordinate. A logit-scale parameter becomes its log(p / (1 - p)), in which it is
uniform: Optuna's distributions know linear and log scales only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from llmhpo.space import (
    CategoricalParam,
    FloatParam,
    GridParam,
    IntParam,
    Param,
    SearchSpace,
    finite_bounds,
    logit,
)


def distribution(param: Param) -> BaseDistribution:
    """The Optuna distribution of one parameter (a grid's: its positions)."""
    if isinstance(param, CategoricalParam):
        return CategoricalDistribution(param.choices)
    if isinstance(param, GridParam):
        return IntDistribution(0, len(param.values) - 1)
    low, high = finite_bounds(param)
    if isinstance(param, IntParam):
        return IntDistribution(int(low), int(high), log=param.log)
    assert isinstance(param, FloatParam)
    if param.logit:
        return FloatDistribution(logit(low), logit(high))
    return FloatDistribution(low, high, log=param.log)


def distributions(space: SearchSpace) -> dict[str, BaseDistribution]:
    return {name: distribution(param) for name, param in space.params.items()}


def to_optuna(space: SearchSpace, config: Mapping[str, Any]) -> dict[str, Any]:
    """A configuration in Optuna's coordinates (a grid value becomes its position, a logit
    one its log-odds)."""
    return {name: optuna_coordinate(param, config[name]) for name, param in space.params.items()}


def from_optuna(space: SearchSpace, params: Mapping[str, Any]) -> dict[str, Any]:
    """Optuna's parameters as a configuration (a grid position becomes its value, a logit
    coordinate its fraction)."""
    return {name: space_value(param, params[name]) for name, param in space.params.items()}


def optuna_coordinate(param: Param, value: Any) -> Any:
    """One value in Optuna's coordinates."""
    if isinstance(param, GridParam):
        return param.index_of(value)
    if isinstance(param, FloatParam) and param.logit:
        return logit(float(value))
    return value


def space_value(param: Param, coordinate: Any) -> Any:
    """One of Optuna's coordinates as the space's value."""
    if isinstance(param, GridParam):
        return param.values[int(coordinate)]
    if isinstance(param, FloatParam) and param.logit:
        return param.from_logit(float(coordinate))
    return coordinate


def param_of(name: str, distribution: BaseDistribution) -> Param | None:
    """llmhpo's parameter for an Optuna distribution; None for one it cannot show the LLM
    (an int or float with a step other than 1: left to the independent sampler)."""
    if isinstance(distribution, CategoricalDistribution):
        return CategoricalParam(name, tuple(distribution.choices))
    if isinstance(distribution, IntDistribution):
        if distribution.step != 1:
            return None
        return IntParam(name, distribution.low, distribution.high, distribution.log)
    if isinstance(distribution, FloatDistribution):
        if distribution.step is not None:
            return None
        return FloatParam(name, distribution.low, distribution.high, distribution.log)
    return None


def optuna_value(distribution: BaseDistribution, value: Any) -> Any:
    """A validated value as Optuna stores it (an int for an IntDistribution)."""
    return int(value) if isinstance(distribution, IntDistribution) else value
