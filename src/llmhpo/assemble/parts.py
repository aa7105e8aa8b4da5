"""The pieces of a study from their config nodes: the objective, the search space, the tuner."""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, OmegaConf

from llmhpo.checks import check_argument_types
from llmhpo.errors import ConfigError, Key, LlmhpoError
from llmhpo.objectives.base import Objective, TaskInfo
from llmhpo.space import SearchSpace, SearchSpaceError
from llmhpo.store.naming import tuner_label
from llmhpo.tuners.base import Tuner
from llmhpo.tuners.start import start_from

log = logging.getLogger(__name__)


def build_objective(cfg: DictConfig) -> Objective:
    try:  # not recursive: nested nodes with a `_target_` (the trainer) are built per trial
        return instantiate(cfg.objective, _convert_="all", _recursive_=False)
    except InstantiationException as error:
        if isinstance(error.__cause__, LlmhpoError):  # the objective's own complete message
            raise error.__cause__ from None
        raise


def build_search_space(cfg: DictConfig, objective: Objective) -> SearchSpace:
    """The configured space, or the objective's own when the config defers to it."""
    space_cfg: dict[str, Any] = OmegaConf.to_container(cfg.search_space, resolve=True)
    own = objective.search_space
    if space_cfg.get("from_objective"):
        if own is None:
            raise SearchSpaceError(
                f"search_space={space_cfg.get('name')} takes its domain from the objective, but "
                f"objective {objective.name!r} brings none; choose a search space such as "
                "search_space=constrained"
            )
        return own
    space = SearchSpace.from_config(space_cfg)
    if own is not None and set(space.names) != set(own.names):
        raise SearchSpaceError(
            f"objective {objective.name!r} evaluates parameters {own.names}, but "
            f"search_space={space.name} has {space.names}; use search_space=toy2d "
            "(the objective's own domain) or a space with exactly those keys"
        )
    return space


def build_tuner(
    cfg: DictConfig, space: SearchSpace, objective: Objective, folder: Path | None = None
) -> Tuner:
    """The configured tuner of a study with an objective node, started from the objective's
    own first configurations where it has them (Bayesmark's: every tuner of a seed evaluates
    the same ones first)."""
    first = list(getattr(objective, "initial_configs", None) or [])
    return make_tuner(cfg.tuner, space, cfg.seed, objective.task, folder, first, llm_nodes(cfg))


def make_tuner(
    tuner_cfg: DictConfig,
    space: SearchSpace,
    seed: int,
    task: TaskInfo,
    folder: Path | None,
    first: list[dict[str, Any]] | None = None,
    given: dict[str, Any] | None = None,
) -> Tuner:
    """The tuner a `tuner` config node describes, for this space, seed and task, given the
    study's `llm` and `prompt` nodes (`given`, from `llm_nodes`) where it takes them; started
    from the space's default, then `first` (the objective's), then `tuner.initial` where
    given, and named as its run folder and the aggregation name it (`tuner_label`:
    `+bo-fallback`, `+warm_start=3`, `+default`, ...)."""
    if OmegaConf.is_config(tuner_cfg):
        node = OmegaConf.to_container(tuner_cfg, resolve=True)
    else:
        node = dict(tuner_cfg)
    described = dict(node)
    initial = node.pop("initial", None) or []
    start_at_default = bool(node.pop("start_at_default", False))
    if not isinstance(initial, list) or not all(isinstance(c, dict) for c in initial):
        why = f" must be a list of configurations (dicts), got {initial!r}"
        raise ConfigError(Key("tuner", "initial"), why)
    target = get_object(str(node.get("_target_")))
    check_argument_types(target, {k: v for k, v in node.items() if k[0] != "_"}, "tuner")
    # Partial first: the runtime objects (space, task) must not pass through OmegaConf.
    make = instantiate(node, _partial_=True, _convert_="all")
    inner = make(space=space, seed=seed, task=task, folder=folder, **(given or {}))
    tuner = start_from(inner, space, initial, start_at_default, first or ())
    tuner.name = tuner_label({"name": inner.name, **described})
    return tuner


def takes_llm(tuner_cfg: DictConfig) -> bool:
    """Whether the tuner a `tuner` node describes is built with an LLM: its class takes an
    `llm` argument (the LLM tuners, and a tuner of the caller's own written like them)."""
    target = get_object(str(tuner_cfg.get("_target_")))
    return "llm" in inspect.signature(target).parameters


def llm_nodes(cfg: DictConfig) -> dict[str, Any]:
    """The study's `llm` and `prompt` nodes, as plain dicts, for a tuner built with an LLM; {}
    for a study without them. The config tree holds one of each, beside the tuner."""
    return {
        key: OmegaConf.to_container(cfg[key], resolve=True)
        for key in ("llm", "prompt")
        if key in cfg
    }
