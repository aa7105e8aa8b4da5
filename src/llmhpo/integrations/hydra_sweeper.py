"""The sweep behind `hydra/sweeper=llmhpo`: any Hydra app tuned by llmhpo's study loop.

Each batch of `n_jobs` configurations from the Python API's study (`llmhpo.Study`, the CLI's
own loop) goes to Hydra's launcher as one job per configuration, so the joblib and submitit
launchers run a batch in parallel. The study lives in the sweep directory (trials.jsonl,
summary.json, study.json): running the same sweep again resumes it, job numbers go on (a
batch's jobs are numbered from its first round, so job i is round i's configuration), and
the tuner proposes what an uninterrupted sweep would have. The
hydra_plugins package holds only the plugin's config and class, since Hydra imports every
plugin at the start of every app; this module is imported when a sweep starts.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from llmhpo.api import Study
from llmhpo.assemble import asks_llm
from llmhpo.errors import ConfigError, spoken_by
from llmhpo.integrations.hydra_params import SweepSpace, sweep_space
from llmhpo.space import SearchSpace
from llmhpo.store.files import write_atomic

log = logging.getLogger(__name__)

RESULTS_FILE = "optimization_results.yaml"


@spoken_by("sweeper")  # the study's messages name hydra.sweeper.* keys
def run_sweep(
    settings: DictConfig,
    config: DictConfig,
    launcher: Any,
    arguments: list[str],
    config_loader: Any = None,
) -> dict[str, Any]:
    """Run (or resume) the sweep; `settings` is hydra.sweeper's node, `config` the app's whole
    config (its hydra node says the sweep directory and the app's name), `config_loader` the
    app's (for glob(...)). Returns the study's summary."""
    folder = Path(config.hydra.sweep.dir)
    space = _space(settings, arguments, config_loader)
    metric = settings.metric or "value"
    options = OmegaConf.to_container(settings.options, resolve=True) or {}
    if "pruner" in options:
        raise ConfigError(
            "a sweep has no pruner: each trial is a job that returns one value, so it cannot "
            "report the steps a pruner judges; drop hydra.sweeper.options.pruner, or tune "
            "through the Python API (llmhpo.Study(..., pruner=...)) or the llmhpo command"
        )
    study = Study(
        space.space,
        tuner=str(settings.tuner),
        budget=settings.budget,
        seed=settings.seed,
        folder=folder,
        # The sweep's LLM and prompt are its LLM tuners' (an app's config may set them for
        # its default tuner=llm while the command line asks for tuner=bo).
        llm=_plain(settings.llm) if asks_llm(str(settings.tuner)) else None,
        prompt=(_plain(settings.prompt) or None) if asks_llm(str(settings.tuner)) else None,
        task_description=settings.task_description or _describe(config, space.space),
        direction=str(settings.direction),
        metric=metric,
        name=str(config.hydra.job.name),
        batch_size=settings.n_jobs,
        context={"fixed_overrides": space.fixed, "app_config": _app_config(config, space)},
        folder_hint=f"set another hydra.sweep.dir than {folder}",
        **options,
    )
    try:
        while batch := study.ask_batch():
            overrides = [tuple(space.overrides(trial.config)) for trial in batch]
            returns = launcher.launch(overrides, initial_job_idx=batch[0].number)
            for trial, job_return in zip(batch, returns, strict=True):
                value, failure = trial_value(job_return, settings.metric)
                if failure is not None:
                    log.warning("Job of round %d failed: %s", trial.number, failure)
                    study.tell(trial, failed=failure)
                else:
                    study.tell(trial, value)
    finally:
        summary = study.finish()
    _write_results(folder, summary, settings)
    return summary


def trial_value(job_return: Any, metric: str | None) -> tuple[float | None, str | None]:
    """(value, None) from a job's return value, or (None, why) for a job that raised or
    returned a non-finite value. A return value that cannot be a metric at all (None, a
    string, a dict without the metric) is a mistake in the app or the sweep's settings, the
    same for every job: ConfigError, which stops the sweep before it spends its budget."""
    from hydra.core.utils import JobStatus

    if job_return.status == JobStatus.FAILED:
        error = job_return._return_value  # the exception; `return_value` would raise it
        return None, f"{type(error).__name__}: {error}"
    returned = job_return.return_value
    if isinstance(returned, Mapping | DictConfig):
        if metric is None:
            raise ConfigError(
                f"the task function returned a dict ({sorted(returned)}): set "
                "hydra.sweeper.metric to the entry to optimise"
            )
        if metric not in returned:
            raise ConfigError(
                f"hydra.sweeper.metric={metric!r}, but the task function returned a dict with "
                f"{sorted(returned)}: name one of these"
            )
        returned = returned[metric]
    if isinstance(returned, bool) or not isinstance(returned, int | float):
        raise ConfigError(
            f"the task function returned {returned!r}; hydra/sweeper=llmhpo needs a number "
            "(or a dict, with hydra.sweeper.metric naming the entry to optimise)"
        )
    value = float(returned)
    if not math.isfinite(value):
        return None, f"the task function returned a non-finite value ({value})"
    return value, None


def _space(settings: DictConfig, arguments: list[str], config_loader: Any) -> SweepSpace:
    params = [f"{key}={value}" for key, value in (settings.params or {}).items()]
    base = SearchSpace.from_yaml(settings.search_space) if settings.search_space else None
    return sweep_space([*params, *arguments], base, config_loader)


def _app_config(config: DictConfig, space: SweepSpace) -> dict[str, Any]:
    """The app's composed config without Hydra's node and the swept keys: what every job runs
    with besides its configuration, so a sweep resumed after the app's config changed (n: 1
    -> 30 in its YAML) is refused, naming the key, instead of mixing two configs' results.
    Unresolved, since an app's interpolations may need Hydra's runtime."""
    app = OmegaConf.to_container(config, resolve=False)
    app.pop("hydra", None)
    for key in space.keys.values():
        *parents, last = key.lstrip("+~").split(".")
        node = app
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return app


def _describe(config: DictConfig, space: SearchSpace) -> str:
    """The LLM's task description when the sweep gives none: the app and what it tunes."""
    return f"the Hydra app '{config.hydra.job.name}' (parameters {', '.join(space.names)})"


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


def _write_results(folder: Path, summary: dict[str, Any], settings: DictConfig) -> None:
    """optimization_results.yaml, as Hydra's sweepers write it, and the same in the log."""
    results = {
        "name": "llmhpo",
        "tuner": summary["tuner"],
        "best_params": summary["best_config"],
        "best_value": summary.get("best_metric"),
        "direction": str(settings.direction),
        "trials": summary["trials"],
        "status_counts": summary["status_counts"],
    }
    # Atomic, as every file of a study: a crash mid-write leaves the previous file or none.
    write_atomic(folder / RESULTS_FILE, OmegaConf.to_yaml(OmegaConf.create(results)))
    log.info("Best parameters: %s", results["best_params"])
    log.info("Best value: %s (%s)", results["best_value"], results["direction"])
