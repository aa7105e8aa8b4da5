"""A search space in Optuna's terms and back: distributions, parameters and configurations.

Beside the Optuna tuner (tuners/bo.py), as ConfigSpace's translation is beside SMAC's; the
other direction (an Optuna study's distributions as llmhpo's parameters) is the Optuna
sampler's (integrations/optuna.py), kept here so that both directions are read together. A
grid parameter (a tabular benchmark's) becomes its position on the grid: Optuna has no
ordinal distribution, and its categorical one forgets the order that TPE and the GP can
use; positions are evenly spaced in the grid's own scale (log where log), so the index is
the natural coordinate.
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
    return FloatDistribution(low, high, log=param.log)


def distributions(space: SearchSpace) -> dict[str, BaseDistribution]:
    return {name: distribution(param) for name, param in space.params.items()}


def to_optuna(space: SearchSpace, config: Mapping[str, Any]) -> dict[str, Any]:
    """A configuration in Optuna's coordinates (a grid value becomes its position)."""
    return {
        name: param.index_of(config[name]) if isinstance(param, GridParam) else config[name]
        for name, param in space.params.items()
    }


def from_optuna(space: SearchSpace, params: Mapping[str, Any]) -> dict[str, Any]:
    """Optuna's parameters as a configuration (a grid position becomes its value)."""
    return {
        name: param.values[int(params[name])] if isinstance(param, GridParam) else params[name]
        for name, param in space.params.items()
    }


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
