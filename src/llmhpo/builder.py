"""Turn a composed config into the pieces of a study (objective, space, tuner)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, OmegaConf

from llmhpo.errors import ConfigError, LlmhpoError, check_argument_types, whole_number
from llmhpo.objectives.base import Objective, TaskInfo
from llmhpo.pruning import make_pruner
from llmhpo.space import SearchSpace, SearchSpaceError
from llmhpo.store.naming import tuner_label
from llmhpo.study import StudyLoop
from llmhpo.tuners.base import Tuner
from llmhpo.tuners.seeded import seeded

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
    return make_tuner(cfg.tuner, space, cfg.seed, objective.task, folder)


def make_tuner(
    tuner_cfg: DictConfig, space: SearchSpace, seed: int, task: TaskInfo, folder: Path | None
) -> Tuner:
    """The tuner a `tuner` config node describes, for this space, seed and task; started
    from the space's default and/or `tuner.initial` where the node asks for them, and named
    as its run folder and the aggregation name it (`tuner_label`: `+bo-fallback`,
    `+warm_start=3`, `+default`, ...)."""
    if OmegaConf.is_config(tuner_cfg):
        node = OmegaConf.to_container(tuner_cfg, resolve=True)
    else:
        node = dict(tuner_cfg)
    described = dict(node)
    initial = node.pop("initial", None) or []
    start_at_default = bool(node.pop("start_at_default", False))
    if not isinstance(initial, list) or not all(isinstance(c, dict) for c in initial):
        raise ConfigError(
            f"tuner.initial must be a list of configurations (dicts), got {initial!r}"
        )
    target = get_object(str(node.get("_target_")))
    check_argument_types(target, {k: v for k, v in node.items() if k[0] != "_"}, "tuner")
    # Partial first: the runtime objects (space, task) must not pass through OmegaConf.
    make = instantiate(node, _partial_=True, _convert_="all")
    inner = make(space=space, seed=seed, task=task, folder=folder)
    tuner = seeded(inner, space, initial, start_at_default)
    tuner.name = tuner_label({"name": inner.name, **described})
    return tuner


def check_run_keys(cfg: DictConfig) -> int:
    """`seed` and `budget`, the run-level keys, checked first; returns the budget."""
    whole_number(cfg.get("seed"), "seed", "0 is a valid seed", minimum=0)
    return whole_number(cfg.get("budget"), "budget", "the number of trials")


def build_study(cfg: DictConfig, folder: Path) -> StudyLoop:
    """The study a composed config describes; config mistakes raise ConfigError before any
    trial (the cheap checks first, then each part checks its own settings as it is built)."""
    budget = check_run_keys(cfg)
    objective = build_objective(cfg)
    space = build_search_space(cfg, objective)
    tuner = build_tuner(cfg, space, objective, folder)
    if tuner.trials is not None and tuner.trials != budget:
        log.info(
            "tuner=%s runs exactly %d trial(s); budget=%d is ignored",
            tuner.name,
            tuner.trials,
            budget,
        )
        budget = tuner.trials
    pruner = make_pruner(
        OmegaConf.to_container(cfg.pruner, resolve=True) if "pruner" in cfg else None
    )
    return StudyLoop(folder, space, tuner, objective, budget=budget, pruner=pruner)
