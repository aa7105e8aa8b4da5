"""Where a study's trials run (the `executor` config group): in the study's own process, in
worker processes on this machine, or as jobs on a SLURM cluster, and how they are handed out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

from omegaconf import DictConfig, OmegaConf

from llmhpo.checks import whole_number
from llmhpo.errors import ConfigError, Key

EXECUTORS = ("inline", "local", "slurm")
MODES = ("async", "batch")
# submitit's AutoExecutor parameter for each SLURM key of conf/executor/slurm.yaml
SLURM_KEYS = {
    "partition": "slurm_partition",
    "mem_gb": "mem_gb",
    "gpus_per_node": "gpus_per_node",
    "cpus_per_task": "cpus_per_task",
    "additional": "slurm_additional_parameters",  # any other sbatch option: {constraint: a100}
}


@dataclass(frozen=True)
class Executor:
    """Where a study's trials run: `inline` (in this process, one after another), `local`
    (`workers` processes on this machine) or `slurm` (`workers` jobs at a time on a SLURM
    cluster); `mode`, `timeout_min`, `retries` and the SLURM options as conf/executor/ says."""

    name: str = "inline"
    workers: int = 1
    mode: str = "async"
    timeout_min: float = 60.0
    retries: int = 0
    poll_seconds: float = 0.5
    slurm: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, node: DictConfig | dict[str, Any] | None) -> Executor:
        """The executor an `executor` node describes, checked (a mistake names its key)."""
        if node is None:
            return cls()
        config = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
        config = dict(config)
        name = config.pop("name", "inline")
        if name not in EXECUTORS:
            raise ConfigError(Key("executor", "name", name), f" is not one of {EXECUTORS}")
        mode = config.pop("mode", "async")
        if mode not in MODES:
            raise ConfigError(Key("executor", "mode", mode), f" is not one of {MODES}")
        workers = whole_number(config.pop("workers", 1), "executor.workers", "worker count")
        if name == "inline" and workers != 1:
            raise ConfigError(
                Key("executor", "workers", workers), ": executor=inline runs one trial at a "
                "time in this process; choose executor=local or executor=slurm for more workers"
            )  # fmt: skip
        timeout = _positive(config.pop("timeout_min", 60), "timeout_min")
        retries = whole_number(config.pop("retries", 0), "executor.retries", "resubmissions", 0)
        poll = _positive(config.pop("poll_seconds", 0.5), "poll_seconds")
        slurm = {key: config.pop(key) for key in SLURM_KEYS if key in config}
        if config:
            raise ConfigError(
                f"executor={name} has no key {sorted(config)[0]!r}; its keys are name, workers, "
                f"mode, timeout_min, retries, poll_seconds and, for slurm, {', '.join(SLURM_KEYS)}"
            )
        return cls(name, workers, mode, timeout, retries, poll, slurm)

    @property
    def asynchronous(self) -> bool:
        """Whether the study asks for a trial whenever a worker frees (others still running)."""
        return self.name != "inline" and self.mode == "async"

    @property
    def batch_size(self) -> int:
        """Trials handed out at once: the workers in batch mode, else one."""
        return self.workers if self.name != "inline" and self.mode == "batch" else 1


def _positive(value: Any, key: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise ConfigError(Key("executor", key, value), " must be a number > 0")
    return float(value)


def executor_node(executor: str | Mapping[str, Any] | None) -> DictConfig:
    """The `executor` node a code door's argument names: a file of conf/executor/ ("local"), or
    a dict of its keys with its "name", merged over that file."""
    if executor is None:
        executor = "inline"
    chosen = {"name": executor} if isinstance(executor, str) else dict(executor)
    name = chosen.get("name", "inline")
    if name not in EXECUTORS:
        raise ConfigError(f"executor={name!r} is not one of {EXECUTORS}")
    shipped = OmegaConf.load(str(files("llmhpo.conf") / "executor" / f"{name}.yaml"))
    return OmegaConf.merge(shipped, chosen)
