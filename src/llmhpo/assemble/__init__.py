"""The one composition root: a composed config node becomes a checked study, at every door.

The CLI composes the whole tree; a study opened from code (the Python API, the Hydra sweeper
through it, Optuna's LLMSampler) composes the tuner, LLM, prompt and pruner nodes it needs
(`nodes.code_config`). Either way `opened_study` checks the node once, in one order (the run
keys, each node's extras and LLM settings, the pruner's values), before the run folder is
touched, then claims the folder and builds the study's parts (`parts`) under its lock. A
refusal leaves the folder as it found it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from llmhpo.assemble.nodes import LLM_TUNERS, asks_llm, code_config
from llmhpo.assemble.parts import (
    build_objective,
    build_search_space,
    build_tuner,
    llm_nodes,
    make_tuner,
    takes_llm,
)
from llmhpo.assemble.preflight import preflight
from llmhpo.checks import whole_number
from llmhpo.errors import ConfigError
from llmhpo.objectives.base import Objective, TaskInfo
from llmhpo.pruning import Pruner, make_pruner
from llmhpo.space import SearchSpace
from llmhpo.store.folder import RUN_DIR_HINT, study_folder, undone_if_refused
from llmhpo.study import StudyLoop
from llmhpo.study.executor import Executor

__all__ = [
    "LLM_TUNERS",
    "PREFLIGHT_NODES",
    "asks_llm",
    "check",
    "code_config",
    "llm_nodes",
    "make_tuner",
    "opened_study",
]

log = logging.getLogger(__name__)

PREFLIGHT_NODES = ("objective", "tuner", "llm")  # the nodes whose parts may need an extra


def check(cfg: DictConfig) -> tuple[int, Pruner | None, Executor]:
    """What the config alone shows wrong, in one order: `seed` and `budget`, then each node's
    missing extras, LLM settings and pasted keys (`preflight`), then the pruner's values and
    the executor's. Returns the budget, the pruner it builds and the executor."""
    whole_number(cfg.get("seed"), "seed", "0 is a valid seed", minimum=0)
    budget = whole_number(cfg.get("budget"), "budget", "the number of trials")
    for node in PREFLIGHT_NODES:
        if node in cfg:
            preflight(cfg[node])
    if "tuner" in cfg:
        check_llm_given(cfg)
    pruner = OmegaConf.to_container(cfg.pruner, resolve=True) if "pruner" in cfg else None
    return budget, make_pruner(pruner), Executor.from_config(cfg.get("executor"))


def check_llm_given(cfg: DictConfig) -> None:
    """An `llm` node where the tuner is built with one, and only there: the config tree holds
    one, beside the tuner, which a tuner without an LLM would silently ignore."""
    try:
        wants = takes_llm(cfg.tuner)
    except (ImportError, AttributeError, ValueError):
        return  # a `_target_` that is no class: building the tuner says so
    name = cfg.tuner.get("name", cfg.tuner.get("_target_"))
    if "llm" in cfg and not wants:
        raise ConfigError(
            f"the config has an llm node (model {cfg.llm.get('model')}), but tuner {name} "
            "proposes without an LLM: drop the llm override, or choose a tuner that uses it "
            "(tuner=llm, hybrid, centaur or llambo)"
        )
    if wants and "llm" not in cfg:
        raise ConfigError(
            f"tuner {name} is built with an LLM, but the config has no llm node: its YAML names "
            "the LLM and prompt in its defaults, as conf/tuner/llm.yaml does "
            "(defaults: [/llm: openai, /prompt: compressed]), or add llm=local to the command"
        )


@contextlib.contextmanager
def opened_study(
    cfg: DictConfig,
    folder: Path,
    record: dict[str, Any],
    *,
    on_busy: str = "stop",
    hint: str = RUN_DIR_HINT,
    others: tuple[str, ...] = (),
    space: SearchSpace | None = None,
    task: TaskInfo | None = None,
    name: str | None = None,
    batch_size: int = 1,
) -> Iterator[StudyLoop]:
    """The study `cfg` describes, in `folder` claimed for `record` (what identifies the study;
    study.json), held under the folder's lock while the block runs.

    Args:
        cfg: the composed node: `seed`, `budget`, `tuner` (and `llm`, `prompt` for an LLM
            tuner), `pruner`, `executor` and, for the CLI, `objective` and `search_space`.
        folder: the run folder.
        record: the config recorded in study.json (the CLI's whole job config; a code door's
            own description of its study).
        on_busy: "stop" or "wait" when another process holds the folder.
        hint: how the door's user picks another folder, for a refusal.
        others: files a refused study takes away with it (Hydra's .hydra/ and job log).
        space, task, name: for a caller that evaluates by itself (no `objective` node): the
            search space, what the tuners are told of the objective, the study's name.
        batch_size: configurations handed out at once.
    """
    with undone_if_refused(folder, others):  # Hydra wrote its files already: a refusal
        budget, pruner, executor = check(cfg)  # takes them away, before anything is written
    with study_folder(folder, record, on_busy, hint, others):
        objective: Objective | None = None
        if "objective" in cfg:
            objective = build_objective(cfg)
            space = build_search_space(cfg, objective)
            tuner = build_tuner(cfg, space, objective, folder)
        else:
            assert space is not None, "a study without an objective node needs its space"
            tuner = make_tuner(cfg.tuner, space, cfg.seed, task, folder, given=llm_nodes(cfg))
        if tuner.trials is not None and tuner.trials != budget:
            log.info("tuner=%s runs exactly %d trial(s); budget=%d is ignored",
                     tuner.name, tuner.trials, budget)  # fmt: skip
            budget = tuner.trials
        batch_size = max(batch_size, executor.batch_size)
        yield StudyLoop(folder, space, tuner, objective, budget, name, batch_size, pruner, executor)
