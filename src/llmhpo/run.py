"""`python -m llmhpo.run`: compose the config, build the study, run or resume it.

Thin on purpose: everything it calls is importable and testable without Hydra's
command line. An `LlmhpoError` (a config mistake, a busy folder, an unreachable
LLM) is printed as one line, without a traceback: exit status 2 for a config
mistake, 1 otherwise. Any other exception is a real crash and keeps its traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

import llmhpo.resolvers  # noqa: F401  (the config's ${llmhpo.*} resolvers)
from llmhpo import CONFIG_MODULE, __version__
from llmhpo.builder import build_study, check_run_keys
from llmhpo.errors import ConfigError, LlmhpoError
from llmhpo.llm.credentials import check_api_key_env
from llmhpo.preflight import preflight
from llmhpo.run_folder import job_config, study_folder, undone_if_refused

log = logging.getLogger("llmhpo")


# The config tree as a package: found alike in a checkout, an editable and a wheel install.
@hydra.main(version_base="1.3", config_path=f"pkg://{CONFIG_MODULE}", config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Returns the best value, so Hydra sweepers can optimise over studies too."""
    folder = Path(HydraConfig.get().runtime.output_dir)
    hydra_files = (".hydra", f"{HydraConfig.get().job.name}.log")
    try:
        return run_study(cfg, folder, hydra_files)
    except LlmhpoError as error:
        report(error)
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # Hydra reports the failed job when the sweep ends; other jobs still run
        sys.exit(2 if isinstance(error, ConfigError) else 1)


def report(error: LlmhpoError) -> None:
    """One line on stderr, and the same line in the run's log file (run.log), if any."""
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, "%s", (error,), None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)
    print(f"llmhpo: error: {error}", file=sys.stderr)


def run_study(cfg: DictConfig, folder: Path, others: tuple[str, ...] = ()) -> float | None:
    """Claim `folder` for this config and run (or resume, or report) its study under its lock;
    a refused command leaves nothing in a new folder, nor `others` (Hydra's files)."""
    with undone_if_refused(folder, others):  # what the config alone shows wrong, before the
        check_run_keys(cfg)  # folder is claimed: a claim would write it (a pasted key too)
        preflight(cfg.objective)
        preflight(cfg.tuner)
        config = job_config(cfg)
    with study_folder(folder, config, str(cfg.get("on_busy", "stop")), others=others):
        summary = build_study(cfg, folder).run()
    log.info(
        "Study in %s: %d/%d trials %s, best value %s with %s",
        folder,
        summary["trials"],
        summary["budget"],
        summary["status_counts"],
        summary["best_value"],
        summary["best_config"],
    )
    return summary["best_value"]


def refuse_pasted_keys(overrides: list[str]) -> None:
    """A key given where its environment variable's name belongs (llm.api_key_env=sk-...) is
    refused before Hydra starts: Hydra would echo a sweep's overrides and write every override
    to the run folder's .hydra/ before llmhpo sees the config."""
    for override in overrides:
        key, equals, value = override.lstrip("+~").partition("=")
        value = value.strip("'\"")  # Hydra's quoting of a string value
        if equals and key.endswith("api_key_env") and value not in ("", "null"):
            check_api_key_env(value)


def cli() -> None:
    """The `llmhpo` command, and `python -m llmhpo.run`: `--version`, or a study (Hydra's
    command line: overrides, -m, --cfg job, --help)."""
    if "--version" in sys.argv[1:]:  # Hydra's own --version would name Hydra's
        print(f"llmhpo {__version__}")
        return
    try:
        refuse_pasted_keys(sys.argv[1:])
    except ConfigError as error:
        print(f"llmhpo: error: {error}", file=sys.stderr)
        sys.exit(2)
    main()


if __name__ == "__main__":
    cli()
