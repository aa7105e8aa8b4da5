"""The config node of a study opened from code, composed from the config tree as the CLI
composes its own: the tuner (with its LLM and prompt), the pruner, the seed and the budget,
with the caller's options merged in. Used by the Python API, the Hydra sweeper and Optuna's
LLMSampler; `assemble.check` then checks it as it checks the CLI's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

import llmhpo.resolvers  # noqa: F401  (the tuner configs' ${llmhpo.*} resolvers)
from llmhpo.conf import CONFIG_MODULE
from llmhpo.errors import ConfigError

LLM_TUNERS = ("llm", "hybrid", "centaur", "llambo")  # llmhpo's tuners that ask an LLM
# Tuner options that are a whole configuration (tuner=fixed's `config`): the caller's replaces
# the preset's, whose keys (the paper's space) a study of the caller's own space does not have.
WHOLE_OPTIONS = {"config"}


def code_config(
    tuner: str,
    budget: int,
    seed: int,
    llm: str | Mapping[str, Any] | None = None,
    prompt: Mapping[str, Any] | None = None,
    pruner: str | Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    config_dir: str | Path | None = None,
) -> DictConfig:
    """`tuner`, `pruner`, `budget`, `seed` (and for a tuner that asks an LLM, `llm` and
    `prompt`): conf/code.yaml composed with the caller's choices, its options merged in;
    `config_dir`, a folder of the caller's own config groups (a tuner of one's own in
    `config_dir/tuner/NAME.yaml`), searched as the CLI's --config-dir is."""
    from hydra import compose
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    known = group_options("tuner", config_dir)
    if tuner not in known:
        raise ConfigError(f"tuner={tuner!r} is not known; choose one of {known}")
    overrides = [f"tuner={tuner}", f"budget={budget}", f"seed={seed}"]
    if config_dir is not None:
        overrides.append(f"hydra.searchpath=[file://{Path(config_dir).resolve()}]")
    if asks_llm(tuner, config_dir):
        overrides.append(f"llm={_llm_preset(llm)}")
    elif llm is not None or prompt is not None:
        raise ConfigError(
            f"llm and prompt are options of the tuners that ask an LLM ({LLM_TUNERS} and those "
            f"of the caller's own whose YAML names an llm), not of tuner={tuner!r}"
        )
    options = dict(options or {})
    try:
        with _config_tree():
            node = compose(config_name="code", overrides=overrides)
        if isinstance(llm, Mapping):  # its keys over its preset's
            node.llm = OmegaConf.merge(node.llm, {k: v for k, v in llm.items() if k != "preset"})
        if prompt:
            node.prompt = OmegaConf.merge(node.prompt, dict(prompt))
        merged = {k: v for k, v in options.items() if k not in WHOLE_OPTIONS}
        node.tuner = OmegaConf.merge(node.tuner, merged)
        with open_dict(node.tuner):  # a whole configuration replaces the preset's own
            for key in WHOLE_OPTIONS & set(options):
                node.tuner[key] = options[key]
        with open_dict(node):
            node.pruner = pruner_config(pruner)
        OmegaConf.resolve(node)
    except (HydraException, OmegaConfBaseException) as error:
        raise ConfigError(f"tuner={tuner!r}: {error}") from None
    return node


def asks_llm(tuner: str, config_dir: str | Path | None = None) -> bool:
    """Whether the file of `tuner` (llmhpo's conf/tuner/, or `config_dir`'s) names an `/llm`
    in its defaults, as an LLM tuner's does: the study then has an llm and a prompt node,
    which the tuner is given as it is built."""
    path = resources.files(CONFIG_MODULE).joinpath("tuner", f"{tuner}.yaml")
    if config_dir is not None and (Path(config_dir) / "tuner" / f"{tuner}.yaml").is_file():
        path = Path(config_dir) / "tuner" / f"{tuner}.yaml"
    if not path.is_file():  # an unknown tuner: code_config names the known ones
        return False
    defaults = OmegaConf.to_container(OmegaConf.load(str(path))).get("defaults") or []
    return any(isinstance(entry, dict) and "/llm" in entry for entry in defaults)


@contextlib.contextmanager
def _config_tree() -> Iterator[None]:
    """Hydra's compose API on llmhpo's tree; a Hydra app of the caller's (the sweeper's) may
    hold Hydra's global state already: it is set aside meanwhile and put back after."""
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    outer = GlobalHydra.instance().hydra
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            yield
    finally:
        GlobalHydra.instance().clear()
        if outer is not None:
            GlobalHydra.instance().initialize(outer)


def group_options(group: str, config_dir: str | Path | None = None) -> list[str]:
    """The options of a config group of llmhpo's tree, and of `config_dir`'s (none for a key
    that is no group)."""
    folders = [resources.files(CONFIG_MODULE).joinpath(group)] if group else []
    if group and config_dir is not None:
        folders.append(Path(config_dir) / group)
    names = {path.name for folder in folders if folder.is_dir() for path in folder.iterdir()}
    return sorted(name.removesuffix(".yaml") for name in names if name.endswith(".yaml"))


def pruner_config(pruner: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """The `pruner` node a study's `pruner` names: a file of conf/pruner/, or a dict with the
    file's `name` and the keys that differ; its name and keys checked here (its values are
    when `pruning.make_pruner` builds it)."""
    options = dict(pruner) if isinstance(pruner, Mapping) else {"name": pruner or "none"}
    if "name" not in options:
        raise ConfigError(
            f"pruner={options!r} names no pruner: add its 'name', one of {group_options('pruner')} "
            "({'name': 'asha', 'reduction_factor': 2})"
        )
    name = options.pop("name")
    if name not in group_options("pruner"):
        raise ConfigError(f"pruner={name!r} is not known; choose one of {group_options('pruner')}")
    path = resources.files(CONFIG_MODULE).joinpath("pruner", f"{name}.yaml")
    node = OmegaConf.to_container(OmegaConf.load(str(path)))
    unknown = sorted(set(options) - set(node))
    if unknown:
        raise ConfigError(f"pruner={name!r} has no key(s) {unknown}; its keys are {sorted(node)}")
    node.update(options)
    return node


def _llm_preset(llm: str | Mapping[str, Any] | None) -> str:
    """The conf/llm file a study's `llm` starts from: the name given; for a dict, the
    embedded model's preset if its provider is local, else openai's (the litellm keys), or
    the one its `preset` names, so that the dict need only give what differs. A dict must say
    its provider or preset: guessing would run the embedded model under the name of the one
    asked for (`{"model": "gpt-4o"}`)."""
    if isinstance(llm, str):
        return llm
    if llm is None:
        return "local"
    if "preset" in llm:  # {"preset": "openai", "api_base": ...}: a preset's keys, some changed
        return str(llm["preset"])
    if "provider" not in llm:
        raise ConfigError(
            f"llm={dict(llm)!r} does not say its provider: add 'provider': 'litellm' for a "
            "remote model ({'provider': 'litellm', 'model': 'openai/gpt-4o'}) or 'local' for a "
            "GGUF file run here ({'provider': 'local', 'model_path': 'FILE.gguf'}), or 'preset' "
            "to start from a file of conf/llm/ ({'preset': 'openai', 'api_base': ...}; in a "
            "sweep: +hydra.sweeper.llm.preset=openai +hydra.sweeper.llm.api_base=...)"
        )
    return "local" if llm["provider"] == "local" else "openai"
