"""Every task of the benchmarks the field's papers report, by one name.

`objective=benchmark objective.task=hpolib-naval_propulsion` is the study that
`objective=hpolib objective.dataset=naval_propulsion` runs, with the same settings (read from
that objective's own config) and the same name. One key names any task, so a single
multirun sweeps tasks of several benchmarks at once (`experiment=leaderboard`), which
Hydra's sweeps over config groups cannot do when each group has its own datasets.

Task names are `bayesmark-<model>-<dataset>`, `hpobench-<dataset>`, `hpolib-<dataset>`
and `nb201-<dataset>`: the names the benchmarks' own objectives give their studies.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from hydra.utils import get_method
from omegaconf import DictConfig, OmegaConf

from llmhpo.conf import CONFIG_MODULE
from llmhpo.errors import ConfigError
from llmhpo.objectives.base import Objective

FAMILIES = ("bayesmark", "hpobench", "hpolib", "nb201")


def family_config(family: str) -> DictConfig:
    """The `objective` node of conf/objective/<family>.yaml, as shipped."""
    path = resources.files(CONFIG_MODULE) / "objective" / f"{family}.yaml"
    return OmegaConf.load(str(path)).objective


def tasks(family: str) -> list[str]:
    """Every task of one benchmark, in its config's order."""
    node = family_config(family)
    if family == "bayesmark":
        return [f"bayesmark-{m}-{d}" for m in node.models for d in node.datasets]
    return [f"{family}-{dataset}" for dataset in node.datasets]


def split_task(task: str) -> tuple[str, list[str]]:
    """`bayesmark-SVM-breast` -> ("bayesmark", ["SVM", "breast"]); a name of another kind of
    study (a toy function's, one's own) -> (its whole name, [])."""
    family, _, rest = task.partition("-")
    if family not in FAMILIES or not rest:
        return task, []
    return family, rest.split("-")


def benchmark_objective(task: str, seed: int = 0, name: str | None = None) -> Objective:
    """The objective of one task, built from its benchmark's config."""
    family, parts = split_task(task)
    expected = 2 if family == "bayesmark" else 1
    if family not in FAMILIES or len(parts) != expected:
        raise ConfigError(
            f"objective.task={task!r} names no task; tasks are bayesmark-<model>-<dataset>, "
            "hpobench-<dataset>, hpolib-<dataset> and nb201-<dataset>, e.g. "
            "bayesmark-SVM-breast or nb201-cifar10"
        )
    node: Any = family_config(family)
    if family == "bayesmark":
        node.model, node.dataset = parts
    else:
        node.dataset = parts[0]
    if name is not None:
        node.name = name
    root = OmegaConf.create({"seed": seed, "objective": node})  # what ${seed} refers to
    # Called, not instantiated: an objective's ConfigError then reaches the caller as itself
    # (build_objective unwraps the one instantiation that built this task).
    arguments: Any = OmegaConf.to_container(root.objective, resolve=True)
    return get_method(arguments.pop("_target_"))(**arguments)
