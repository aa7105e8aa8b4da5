"""The `hydra/sweeper=llmhpo` plugin: its config, registered in Hydra's ConfigStore, and the
Sweeper that Hydra instantiates from it.

Hydra imports every module under `hydra_plugins` when any Hydra app starts, so this one
imports only Hydra; llmhpo's study loop is imported when a sweep starts. (No `from
__future__ import annotations`: Hydra runs plugin modules outside sys.modules, where
dataclasses cannot resolve string annotations.)
"""

import sys
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


@dataclass
class LLMHPOSweeperConf:
    """hydra.sweeper.*: the tuner, its budget and options, and the parameters to tune."""

    _target_: str = "hydra_plugins.llmhpo_sweeper.llmhpo_sweeper.LLMHPOSweeper"
    # a file of llmhpo's conf/tuner/: llm, random, bo, smac, cmaes, llambo, ...
    tuner: str = "random"
    # the tuner's own options, by the names of its conf/tuner/ file (sampler, max_attempts, ...)
    options: dict[str, Any] = field(default_factory=dict)
    # for the LLM tuners: a preset of conf/llm/ (local, openai, ...) or its keys as a dict;
    # None: the embedded model (local)
    llm: Any = None
    # for the LLM tuners: keys of conf/prompt/ (format, cot, ...) over the tuner's preset
    prompt: dict[str, Any] = field(default_factory=dict)
    budget: int = 10
    seed: int = 0
    direction: str = "minimize"
    # configurations sent to the launcher at once (joblib, submitit: run in parallel)
    n_jobs: int = 1
    # the entry of a returned dict to optimise, and the metric's name in the LLM's prompt
    metric: str | None = None
    # what the LLM is told it tunes; default: the app's name and its parameters
    task_description: str | None = None
    # an llmhpo search-space YAML (conf/search_space/ format); sweeps in params add to it
    search_space: str | None = None
    # parameter -> sweep in Hydra's grammar: interval(...), range(...), choice(...), tag(log, ...)
    params: dict[str, str] = field(default_factory=dict)


ConfigStore.instance().store(
    group="hydra/sweeper", name="llmhpo", node=LLMHPOSweeperConf, provider="llmhpo"
)


class LLMHPOSweeper(Sweeper):
    """Hands each batch of the study's configurations to Hydra's launcher, and the jobs'
    return values back to the study."""

    def __init__(self, **settings: Any):
        self.settings = DictConfig(settings)
        self.config: DictConfig | None = None
        self.launcher: Any = None
        self.config_loader: Any = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config
        self.config_loader = hydra_context.config_loader
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> Any:
        """Run the sweep; an expected failure (a mistake in the settings, a busy sweep
        directory) ends the command with one line and its exit status, as the CLI does."""
        from llmhpo.errors import LlmhpoError, print_error
        from llmhpo.integrations.hydra_sweeper import run_sweep

        try:
            return run_sweep(
                self.settings, self.config, self.launcher, arguments, self.config_loader
            )
        except LlmhpoError as error:
            print_error(error)
            sys.exit(error.exit_status)
