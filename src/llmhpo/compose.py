"""The config nodes a study opened from code is built from, composed from conf/ exactly as
the CLI composes them: the tuner (with its LLM and prompt) and the pruner, with the caller's
options merged in and everything checked before any work. Used by the Python API, Optuna's
LLMSampler and the Hydra sweeper (through the API).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

import llmhpo.resolvers  # noqa: F401  (the tuner configs' ${llmhpo.*} resolvers)
from llmhpo.conf import CONFIG_MODULE
from llmhpo.errors import ConfigError
from llmhpo.preflight import preflight
from llmhpo.pruning import PRUNERS

LLM_TUNERS = ("llm", "hybrid")  # the tuners that take `llm` and `prompt`
# Tuner options that are a whole configuration (tuner=fixed's `config`): the caller's replaces
# the preset's, whose keys (the paper's space) a study of the caller's own space does not have.
WHOLE_OPTIONS = {"config"}


def tuner_config(
    tuner: str,
    budget: int,
    seed: int,
    llm: str | Mapping[str, Any] | None,
    prompt: Mapping[str, Any] | None,
    options: Mapping[str, Any],
) -> DictConfig:
    """The `tuner` (and for tuner="llm" or "hybrid", `llm` and `prompt`) config nodes, composed from
    conf/ exactly as the CLI composes them, with the caller's options merged in; a tuner (or
    LLM) whose extra is not installed is refused here, before any work."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    presets = resources.files(CONFIG_MODULE).joinpath("tuner").iterdir()
    known = sorted(p.name.removesuffix(".yaml") for p in presets if p.name.endswith(".yaml"))
    if tuner not in known:
        raise ConfigError(f"tuner={tuner!r} is not known; choose one of {known}")
    overrides = ["objective=toy", f"tuner={tuner}", f"budget={budget}", f"seed={seed}"]
    if tuner in LLM_TUNERS:
        overrides.append(f"llm={_llm_preset(llm)}")
    elif llm is not None or prompt is not None:
        raise ConfigError(
            f"llm and prompt are options of tuner='llm' and 'hybrid', not of tuner={tuner!r}"
        )
    outer = GlobalHydra.instance().hydra  # an app of the caller's may run under Hydra already
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            cfg = compose(config_name="config", overrides=overrides)
        keep = ["tuner", "llm", "prompt"] if tuner in LLM_TUNERS else ["tuner"]
        keep += ["budget", "seed"]  # the tuner's ${budget}, and what study.json records
        node = OmegaConf.create({key: cfg[key] for key in keep})
        OmegaConf.set_struct(node, True)
        if isinstance(llm, Mapping):  # its keys over its preset's
            node.llm = OmegaConf.merge(node.llm, {k: v for k, v in llm.items() if k != "preset"})
        if prompt:
            node.prompt = OmegaConf.merge(node.prompt, dict(prompt))
        merged = {k: v for k, v in options.items() if k not in WHOLE_OPTIONS}
        node.tuner = OmegaConf.merge(node.tuner, merged)
        with open_dict(node.tuner):  # a whole configuration replaces the preset's own
            for key in WHOLE_OPTIONS & set(options):
                node.tuner[key] = options[key]
        if tuner in LLM_TUNERS:  # the tuner's own copies follow the merged llm and prompt
            node.tuner.llm, node.tuner.prompt = node.llm, node.prompt
        OmegaConf.resolve(node)
    except (HydraException, OmegaConfBaseException) as error:
        raise ConfigError(f"tuner={tuner!r}: {error}") from None
    finally:
        GlobalHydra.instance().clear()
        if outer is not None:
            GlobalHydra.instance().initialize(outer)
    preflight(node.tuner)  # a missing extra, a pasted key: refused before any work
    return node


def pruner_config(pruner: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """The `pruner` node a study's `pruner` names: a file of conf/pruner/, or a dict with the
    file's `name` and the keys that differ; its name and keys checked here (its values are
    when `pruning.make_pruner` builds it)."""
    options = dict(pruner) if isinstance(pruner, Mapping) else {"name": pruner or "none"}
    if "name" not in options:
        raise ConfigError(
            f"pruner={options!r} names no pruner: add its 'name', one of {list(PRUNERS)} "
            "({'name': 'asha', 'reduction_factor': 2})"
        )
    name = options.pop("name")
    if name not in PRUNERS:
        raise ConfigError(f"pruner={name!r} is not known; choose one of {list(PRUNERS)}")
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
