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

from llmhpo.assemble.nodes import LLM_TUNERS, code_config
from llmhpo.assemble.parts import build_objective, build_search_space, build_tuner, make_tuner
from llmhpo.assemble.preflight import preflight
from llmhpo.checks import whole_number
from llmhpo.objectives.base import Objective, TaskInfo
from llmhpo.pruning import Pruner, make_pruner
from llmhpo.space import SearchSpace
from llmhpo.store.folder import RUN_DIR_HINT, study_folder, undone_if_refused
from llmhpo.study import StudyLoop
from llmhpo.study.executor import Executor

__all__ = ["LLM_TUNERS", "check", "code_config", "make_tuner", "opened_study"]

log = logging.getLogger(__name__)


def check(cfg: DictConfig) -> tuple[int, Pruner | None, Executor]:
    """What the config alone shows wrong, in one order: `seed` and `budget`, then each node's
    missing extras, LLM settings and pasted keys (`preflight`), then the pruner's values and
    the executor's. Returns the budget, the pruner it builds and the executor."""
    whole_number(cfg.get("seed"), "seed", "0 is a valid seed", minimum=0)
    budget = whole_number(cfg.get("budget"), "budget", "the number of trials")
    for node in ("objective", "tuner"):
        if node in cfg:
            preflight(cfg[node])
    pruner = OmegaConf.to_container(cfg.pruner, resolve=True) if "pruner" in cfg else None
    return budget, make_pruner(pruner), Executor.from_config(cfg.get("executor"))


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
        cfg: the composed node: `seed`, `budget`, `tuner` (with `llm`, `prompt`), `pruner`,
            `executor` and, for the CLI, `objective` and `search_space`.
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
            tuner = make_tuner(cfg.tuner, space, cfg.seed, task, folder)
        if tuner.trials is not None and tuner.trials != budget:
            log.info("tuner=%s runs exactly %d trial(s); budget=%d is ignored",
                     tuner.name, tuner.trials, budget)  # fmt: skip
            budget = tuner.trials
        batch_size = max(batch_size, executor.batch_size)
        yield StudyLoop(folder, space, tuner, objective, budget, name, batch_size, pruner, executor)
