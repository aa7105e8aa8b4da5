"""`python -m llmhpo.run`: compose the config, build the study, run or resume it.

Thin on purpose: everything it calls is importable and testable without Hydra's
command line. An `LlmhpoError` (a config mistake, a busy folder, an unreachable
LLM) is printed as one line, without a traceback, and ends the command with the
error's exit status (2 for a config mistake, 3 for a busy folder, 1 otherwise). A
command line Hydra cannot compose (`pruner=null`, a misspelt key) is refused the
same way, before Hydra starts. Any other exception is a real crash and keeps its
traceback.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

import llmhpo.resolvers  # noqa: F401  (the config's ${llmhpo.*} resolvers)
from llmhpo import __version__
from llmhpo.assemble import opened_study
from llmhpo.assemble.nodes import group_options
from llmhpo.conf import CONFIG_MODULE
from llmhpo.errors import ConfigError, LlmhpoError, one_line, print_error
from llmhpo.llm.credentials import check_api_key_env
from llmhpo.store.folder import job_config

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
        print_error(error)
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # Hydra reports the failed job when the sweep ends; other jobs still run
        sys.exit(error.exit_status)


def run_study(cfg: DictConfig, folder: Path, others: tuple[str, ...] = ()) -> float | None:
    """Claim `folder` for this config and run (or resume, or report) its study under its lock;
    a refused command leaves nothing in a new folder, nor `others` (Hydra's files)."""
    on_busy = str(cfg.get("on_busy", "stop"))
    with opened_study(cfg, folder, job_config(cfg), on_busy=on_busy, others=others) as study:
        summary = study.run()
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


def refuse_uncomposable(argv: list[str]) -> None:
    """Compose the config as Hydra is about to (a sweep at its first value), so that a command
    line it cannot compose is refused as one ConfigError line naming the fix, instead of
    Hydra's traceback or report of several lines (`pruner=null`, `pruner.bogus=3`,
    `tuner=foo`). A command line that changes the config tree itself (--config-dir, ...) or
    asks for help is left to Hydra."""
    from hydra._internal.utils import get_args_parser
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        args = get_args_parser().parse_args(argv)
    except SystemExit:  # not Hydra's command line at all: Hydra says why
        return
    own_tree = (args.config_dir, args.config_path, args.config_name, args.experimental_rerun)
    asks_help = (args.help, args.hydra_help, args.shell_completion, args.info)
    if any(own_tree) or any(asks_help):
        return
    try:
        parsed = OverridesParser.create().parse_overrides(args.overrides)
    except HydraException as error:
        raise ConfigError(one_line(str(error))) from None
    overrides = []
    for override in parsed:
        key = override.get_key_element()
        if override.is_sweep_override():
            try:
                overrides.append(f"{key}={next(override.sweep_string_iterator())}")
            except (HydraException, StopIteration, TypeError, ValueError):
                return  # a sweep Hydra's launcher expands: left to it
            continue
        if override.value() is None and not override.is_delete() and group_options(key):
            raise ConfigError(
                f"{key}=null is not an option of the {key} group: choose one of "
                f"{', '.join(group_options(key))}, or leave {key} out for its default"
            )
        overrides.append(override.input_line)
    try:
        _compose(overrides)
    except (HydraException, OmegaConfBaseException, ValueError) as error:
        raise ConfigError(_composition_error(error, overrides)) from None


def _compose(overrides: list[str]) -> Any:
    from hydra import compose, initialize_config_module

    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def _composition_error(error: Exception, overrides: list[str]) -> str:
    """Hydra's message as one line; for a key the config does not have, the keys it has."""
    from omegaconf import OmegaConf
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError

    missing = re.match(r"Could not override '([^']+)'", str(error))
    if missing is None or not isinstance(error.__cause__, ConfigAttributeError | ConfigKeyError):
        return one_line(str(error))
    key = missing.group(1)
    parent, _, name = key.rpartition(".")
    try:
        node = _compose([o for o in overrides if o.partition("=")[0].lstrip("+~") != key])
        keys = sorted(str(k) for k in OmegaConf.select(node, parent) if not str(k).startswith("_"))
    except Exception:  # the message alone, then
        return one_line(str(error))
    return (
        f"{key}: {parent} has no key {name!r}; its keys are {', '.join(keys)} (check the "
        f"spelling; a key the config lacks is added with +{key}=...)"
    )


def cli() -> None:
    """The `llmhpo` command, and `python -m llmhpo.run`: `--version`, or a study (Hydra's
    command line: overrides, -m, --cfg job, --help)."""
    if "--version" in sys.argv[1:]:  # Hydra's own --version would name Hydra's
        print(f"llmhpo {__version__}")
        return
    try:
        refuse_pasted_keys(sys.argv[1:])
        refuse_uncomposable(sys.argv[1:])
    except ConfigError as error:
        print_error(error)
        sys.exit(error.exit_status)
    main()


if __name__ == "__main__":
    cli()
