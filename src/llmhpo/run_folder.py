"""Where a run lives: one folder per distinct configuration.

The folder name is derived from the composed config (readable labels plus a
fingerprint of everything but Hydra's own settings), so running the same
command again lands in the same folder and resumes, while any change of
config lands elsewhere. `study.json` in the folder records the fingerprint and
the config; a folder that holds a different study (say, a hand-set
`hydra.run.dir`) is refused with the keys that differ.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from llmhpo.trial_log import write_json_atomic
from llmhpo.tuners.bo import bo_name

STUDY_FILE = "study.json"


class RunFolderMismatchError(RuntimeError):
    """The run folder already holds a study with a different configuration."""


def job_config(root: DictConfig) -> dict[str, Any]:
    """The resolved job config without the `hydra` node.

    Resolved key by key: resolving `hydra` itself would call the run-name
    resolver again from inside `hydra.run.dir`.
    """
    return {
        key: OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
        for key, value in root.items()
        if key != "hydra"
    }


def fingerprint(config: dict[str, Any]) -> str:
    canonical = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def run_name(config: dict[str, Any]) -> str:
    """`{objective}_{tuner}_seed{seed}_{fingerprint[:8]}`, safe as a folder name."""
    parts = [
        str(config.get("objective", {}).get("name", "objective")),
        str(config.get("tuner", {}).get("name", "tuner")),
        f"seed{config.get('seed')}",
        fingerprint(config)[:8],
    ]
    return re.sub(r"[^A-Za-z0-9._=+-]", "-", "_".join(parts))


def _run_name_resolver(*, _root_: DictConfig) -> str:
    return run_name(job_config(_root_))


def register_resolvers() -> None:
    """`${llmhpo.run_name:}` for Hydra's `run.dir` and `sweep.subdir`; `${llmhpo.bo_name:...}`."""
    if not OmegaConf.has_resolver("llmhpo.run_name"):
        OmegaConf.register_new_resolver("llmhpo.run_name", _run_name_resolver)
    if not OmegaConf.has_resolver("llmhpo.bo_name"):
        OmegaConf.register_new_resolver("llmhpo.bo_name", bo_name)


# At import, not only from run.py: Hydra's joblib workers unpickle the task
# function, which imports this module, and must resolve `sweep.subdir` too.
register_resolvers()


def claim(folder: Path, config: dict[str, Any]) -> None:
    """Record this study in `folder`, or check that the study already there is the same."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / STUDY_FILE
    digest = fingerprint(config)
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored.get("fingerprint") != digest:
            differences = _differences(stored.get("config", {}), config)
            raise RunFolderMismatchError(
                f"{folder} already holds a study with a different configuration "
                f"(differs in: {', '.join(differences) or 'unknown keys'}). Results of "
                "different configurations never share a folder: drop the hydra.run.dir "
                "override to get the folder for this configuration, or pick another one."
            )
        return
    write_json_atomic(path, {"fingerprint": digest, "config": config})


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
