"""The checks a composed config gets before any work: no run folder claimed, no trial run.

What the config alone shows wrong is one line now, not a failure minutes into a study, nor a
record that outlives the mistake (a key pasted as a variable's name, written to study.json).
The CLI checks its objective and tuner nodes; the Python API, the Optuna sampler and the
Hydra sweeper check the tuner node they compose.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from omegaconf import OmegaConf

from llmhpo import extras
from llmhpo.llm.clients import check_llm_config


def preflight(node: Any) -> None:
    """ConfigError (MissingExtraError for a missing extra) for the first mistake in `node`."""
    if OmegaConf.is_config(node):
        node = OmegaConf.to_container(node, resolve=True)
    for mapping in mappings(node):
        for extra, part, skip in extras.parts_of(mapping):
            extras.require(extra, part, skip)
        if "provider" in mapping:  # an llm node
            check_llm_config(mapping)


def mappings(node: Any) -> Iterator[Mapping[str, Any]]:
    """Every mapping inside `node` (a plain config container), `node` itself included."""
    if isinstance(node, Mapping):
        yield node
        children = list(node.values())
    else:
        children = list(node) if isinstance(node, list | tuple) else []
    for child in children:
        yield from mappings(child)
