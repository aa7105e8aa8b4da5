"""Where a run lives: one folder per distinct configuration, and the files in it.

The folder name is derived from the composed config (readable labels plus a
fingerprint of everything but Hydra's own settings and `on_busy`), so running
the same command again lands in the same folder and resumes, while any change
of config lands elsewhere. `study.json` in the folder records the fingerprint
and the config; a folder that holds a different study (say, a hand-set
`hydra.run.dir`) is refused with the keys that differ.

One study runs in a folder at a time: `locked` holds an exclusive lock on the
folder's `.lock` file for the study's lifetime. The kernel drops the lock when
its process ends, however it ends, so a killed run never blocks the next one.

This module owns the names of the folder's files; every reader of a run folder
(the study, `tuner.from_run`, the aggregation, tests) takes them from here.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from llmhpo.errors import ConfigError, LlmhpoError
from llmhpo.store.files import DamagedFileError, read_json, write_json_atomic
from llmhpo.store.naming import tuner_label, with_tuner_llm, without_neutral_keys
from llmhpo.store.trial_log import TrialLog

log = logging.getLogger(__name__)

STUDY_FILE = "study.json"  # the fingerprint and the resolved config
TRIALS_FILE = "trials.jsonl"  # the trial log, one line per round
RUNNING_FILE = "running.json"  # an asynchronous study's trials out for evaluation, with their jobs
SUMMARY_FILE = "summary.json"  # the study's result, rewritten at each end of a run
LOCK_FILE = ".lock"  # held while a study runs; names its holder
HOLDER_WRITE_WAIT_SECONDS = 2.0  # how long a process that finds the lock taken waits for the name

# Top-level keys that say how to run, not what: they never change a folder's name. (The
# executor's workers do where they run in batches: a batch's proposals depend on its size.)
OPERATIONAL_KEYS = ("on_busy", "executor")
ON_BUSY = ("stop", "wait")


class RunFolderMismatchError(ConfigError):
    """The run folder already holds a study with a different configuration."""


class FolderBusyError(LlmhpoError):
    """Another process is running the study in this folder (exit status 3: a script can wait
    and retry, which it should not do for a mistake)."""

    exit_status = 3


def job_config(root: DictConfig) -> dict[str, Any]:
    """The resolved job config as the study records it (`with_tuner_llm`), without the
    `hydra` node and the operational keys.

    Resolved key by key: resolving `hydra` itself would call the run-name
    resolver again from inside `hydra.run.dir`.
    """
    config = without_neutral_keys(
        with_tuner_llm(
            {
                key: OmegaConf.to_container(value, resolve=True)
                if OmegaConf.is_config(value)
                else value
                for key, value in root.items()
                if key != "hydra" and key not in OPERATIONAL_KEYS
            }
        )
    )
    executor = root.get("executor") or {}
    in_batches = executor.get("name", "inline") != "inline" and executor.get("mode") == "batch"
    if in_batches and int(executor.get("workers", 1)) > 1:
        config["batch_size"] = int(executor.workers)  # as the Python API records it
    space, tuner = config.get("search_space"), config.get("tuner")
    default_first = isinstance(tuner, dict) and tuner.get("start_at_default")
    if isinstance(space, dict) and "default" in space and not default_first:
        # A space's default is evaluated only with start_at_default: without it, the study is
        # the one it was before the space had a default, and keeps its folder.
        config["search_space"] = {k: v for k, v in space.items() if k != "default"}
    return config


# Keys that bound or label a study rather than define it: a folder reopened with another value
# goes on with the same study. A larger budget runs more trials, the tuner told every earlier
# one; a smaller one reports the study finished; another name renames it in its summary and
# the aggregation. They stay out of the fingerprint (and so of the folder's name).
LABELS = (("budget",), ("tuner", "budget"), ("objective", "name"))


def identity(config: dict[str, Any]) -> dict[str, Any]:
    """`config` without its LABELS: what makes a study the study it is."""
    config = copy.deepcopy(config)
    for *parents, key in LABELS:
        node: Any = config
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(key, None)
    return config


def digest(data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def fingerprint(config: dict[str, Any]) -> str:
    """What tells two studies apart: a digest of the config without its LABELS."""
    return digest(identity(config))


def run_name(config: dict[str, Any], digest_of: Any = fingerprint) -> str:
    """`{objective}_{tuner}_seed{seed}_{fingerprint[:8]}`, safe as a folder name."""
    parts = [
        str(config.get("objective", {}).get("name", "objective")),
        tuner_label(config.get("tuner", {})),
        f"seed{config.get('seed')}",
        digest_of(config)[:8],
    ]
    return re.sub(r"[^A-Za-z0-9._=+-]", "-", "_".join(parts))


def run_name_of_root(parent: str = "", *, _root_: DictConfig) -> str:
    """`${llmhpo.run_name:PARENT}`: the run name of the config being composed. Where PARENT
    holds no folder of that name but one named as llmhpo 0.1 named this study (its digest
    took the budget and the name in), that one: the same command resumes it."""
    config = job_config(_root_)
    name = run_name(config)
    if parent and not (Path(parent) / name).exists():
        earlier = run_name(config, digest_of=digest)
        if (Path(parent) / earlier / STUDY_FILE).is_file():
            return earlier
    return name


def _this_process() -> str:
    """How a holder names itself in the lock file."""
    return f"process {os.getpid()} on {socket.gethostname()}"


def _holder_of(path: Path) -> str:
    """Who holds the lock at `path`, as the holder wrote it. A holder writes its line just
    after taking the lock, so a reader that arrives in between finds the file empty: wait a
    moment for the line rather than naming no one."""
    deadline = time.monotonic() + HOLDER_WRITE_WAIT_SECONDS
    while not (holder := path.read_text(encoding="utf-8").strip()):
        if time.monotonic() > deadline:
            return "another process"
        time.sleep(0.02)
    return holder


@contextlib.contextmanager
def locked(folder: Path, on_busy: str = "stop") -> Iterator[None]:
    """Hold `folder`'s lock while the block runs. When another process holds it: `stop` raises
    FolderBusyError naming the folder and the holder; `wait` waits until it is released."""
    if on_busy not in ON_BUSY:
        raise ConfigError(f"on_busy must be one of {ON_BUSY}, got {on_busy!r}")
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder} is a file, not a folder: give a folder for the study")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    with path.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder_of(path)
            if holder.startswith(f"{_this_process()} "):  # waiting would never end: it is ours
                raise FolderBusyError(
                    f"{folder} is held by this process: a study on it was not finished (an "
                    "exception or Ctrl-C in a notebook leaves it open). Call that study's "
                    "finish() to release the folder, or use another folder."
                ) from None
            if on_busy == "stop":
                raise FolderBusyError(
                    f"{folder} is in use by {holder}: one study runs in a folder at a time. "
                    "Let it finish (running the same command afterwards resumes or reports the "
                    "study), stop that process, or add on_busy=wait to wait for it."
                ) from None
            log.info("Waiting for %s, in use by %s", folder, holder)
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{_this_process()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        handle.flush()
        try:
            yield
        finally:
            # Name no one once done; closing the file then releases the lock. (A killed
            # holder's line stays, but the kernel drops its lock.)
            handle.seek(0)
            handle.truncate()


RUN_DIR_HINT = (
    "drop the hydra.run.dir override to get the folder for this configuration, or pick another one"
)


def claim(folder: Path, config: dict[str, Any], hint: str = RUN_DIR_HINT) -> None:
    """Record this study in `folder`, or check that the study already there is the same;
    `hint` says how the caller picks another folder. The same study with other LABELS (a
    larger budget, another name) is recorded with them (`_relabelled`)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / STUDY_FILE
    if not path.exists():
        write_json_atomic(path, {"fingerprint": fingerprint(config), "config": config})
        return
    stored = _read_study_file(path)
    before = stored["config"]
    if fingerprint(before) != fingerprint(config):
        differences = _differences(identity(before), identity(config))
        raise RunFolderMismatchError(
            f"{folder} already holds a study with a different configuration "
            f"(differs in: {', '.join(differences) or 'unknown keys'}). Results of "
            f"different configurations never share a folder: {hint}."
        )
    order_before, order_now = _parameter_order(before), _parameter_order(config)
    if order_before != order_now:  # the fingerprint sorts keys; proposals follow the order
        raise RunFolderMismatchError(
            f"{folder} holds this study with its parameters in another order ({order_before}; "
            f"now {order_now}): random proposals and the LLM's prompt follow the order, so the "
            f"resumed study would not be the one begun. List them as before, or: {hint}."
        )
    recorded = _relabelled(stored, before, config, folder)
    if recorded is not None:
        write_json_atomic(path, recorded)


def _relabelled(
    stored: dict[str, Any], before: dict[str, Any], config: dict[str, Any], folder: Path
) -> dict[str, Any] | None:
    """The study file for `config`, the same study as `before` with other LABELS, or None when
    nothing changed. The recorded budget is the largest the study was given (a smaller one
    reports it finished and takes nothing away); when a larger one extends a study that had
    run its whole budget, that budget is kept in `ended_at`, where its last batch closed, so
    that a resumed study replays its batches as they ran."""
    config = copy.deepcopy(config)
    ended_at = list(stored.get("ended_at", []))
    old, new = before.get("budget"), config.get("budget")
    if isinstance(old, int) and isinstance(new, int) and new != old:
        if new < old:
            config["budget"] = old
            if isinstance(config.get("tuner"), dict) and "budget" in config["tuner"]:
                config["tuner"]["budget"] = before.get("tuner", {}).get("budget", old)
        elif old not in ended_at and _logged_rounds(folder) >= old:
            ended_at.append(old)
    if config == before and ended_at == stored.get("ended_at", []):
        return None
    recorded = {"fingerprint": fingerprint(config), "config": config}
    return {**recorded, "ended_at": ended_at} if ended_at else recorded


def _logged_rounds(folder: Path) -> int:
    return len(TrialLog(folder / TRIALS_FILE).scan().records)


def ended_at(folder: Path) -> list[int]:
    """The budgets at which the study in `folder` ended before it was given a larger one (see
    `_relabelled`); none for a folder without a study file."""
    try:
        stored = read_json(folder / STUDY_FILE)
    except DamagedFileError:
        return []
    return list(stored.get("ended_at", [])) if isinstance(stored, dict) else []


def relabel(folder: Path, label: tuple[str, ...], value: Any) -> None:
    """Set one of the LABELS in the study file of `folder` (the caller holds its lock)."""
    if label not in LABELS:
        raise ValueError(f"{'.'.join(label)} is not a label of a study; the labels: {LABELS}")
    path = folder / STUDY_FILE
    stored = _read_study_file(path)
    node = stored["config"]
    for part in label[:-1]:
        node = node.setdefault(part, {})
    if node.get(label[-1]) != value:
        node[label[-1]] = value
        write_json_atomic(path, stored)


@contextlib.contextmanager
def study_folder(
    folder: Path,
    config: dict[str, Any],
    on_busy: str = "stop",
    hint: str = RUN_DIR_HINT,
    others: tuple[str, ...] = (),
) -> Iterator[None]:
    """The block (which builds and runs the study) under `folder`'s lock, the folder claimed
    for `config`; a block refused with a ConfigError in a folder that held no study leaves
    nothing there (`undone_if_refused`, which also takes away `others`). The CLI and the
    Python API open every study through here."""
    with undone_if_refused(folder, others), locked(folder, on_busy):
        claim(folder, config, hint)
        yield


@contextlib.contextmanager
def undone_if_refused(folder: Path, others: tuple[str, ...] = ()) -> Iterator[None]:
    """Run the block; when it raises a ConfigError and `folder` held no study before it, take
    away what the refused study left there (`_discard_refused`), so that a corrected command
    is not told that the folder holds another study."""
    fresh = not (folder / STUDY_FILE).exists()
    # The folder is this command's to take away if it made it: it was not there, or holds
    # `others`, which this command wrote before the block (Hydra makes the folder for them).
    made_here = not folder.exists() or any((folder / other).exists() for other in others)
    try:
        yield
    except ConfigError:
        if fresh:
            _discard_refused(folder, others, made_here)
        raise


def _discard_refused(folder: Path, others: tuple[str, ...], made_here: bool) -> None:
    """Remove study.json, the lock, SMAC's folder and `others` (Hydra's .hydra/ and job log)
    from `folder`, and the folder once empty if this command made it (never the working
    directory or one above it). A folder with a trial log, or with anything else, is left as
    it is."""
    if not folder.is_dir() or (folder / TRIALS_FILE).exists():
        return
    known = {STUDY_FILE, LOCK_FILE, "smac", *others}
    entries = list(folder.iterdir())
    if any(entry.name not in known for entry in entries):
        return
    for entry in entries:
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    here = Path.cwd().resolve()
    if made_here and folder.resolve() not in (here, *here.parents):
        folder.rmdir()


def _parameter_order(config: dict[str, Any]) -> list[str]:
    """The search space's parameter names in their order, as a study records them."""
    space = config.get("search_space")
    parameters = space.get("parameters") if isinstance(space, dict) else None
    return list(parameters) if isinstance(parameters, dict) else []


def _read_study_file(path: Path) -> dict[str, Any]:
    try:
        stored = read_json(path)
    except DamagedFileError as error:
        stored, why = None, str(error)
    else:
        why = f"{path} is not a JSON object with a fingerprint and a config"
    if not isinstance(stored, dict) or not isinstance(stored.get("config"), dict):
        raise DamagedFileError(
            f"{why}, so the folder's study is unknown. If the folder's {TRIALS_FILE} belongs to "
            f"this command's study, delete {path.name} and run again (it is rewritten and the "
            "trials resume); otherwise move the folder away."
        )
    return stored


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(data, dict):
        return {prefix: data}
    flat: dict[str, Any] = {}
    for key, value in data.items():
        flat.update(_flatten(value, f"{prefix}{key}."))
    return flat if flat else {prefix: data}


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    flat_old, flat_new = _flatten(old), _flatten(new)
    keys = sorted(set(flat_old) | set(flat_new))
    return [k.rstrip(".") for k in keys if flat_old.get(k) != flat_new.get(k)]
