"""The shipped config, as tests read it: files of conf/ and the composed config."""

from pathlib import Path

from hydra import compose, initialize_config_module
from omegaconf import DictConfig, OmegaConf

import llmhpo.resolvers  # noqa: F401  (registers the run-name resolver)
from llmhpo.conf import CONFIG_MODULE

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "src" / "llmhpo" / "conf"


def shipped_config(group: str, name: str, **overrides) -> dict:
    """`conf/GROUP/NAME.yaml` as shipped, with overrides: tests follow the real defaults."""
    return {**OmegaConf.to_container(OmegaConf.load(CONF / group / f"{name}.yaml")), **overrides}


def compose_config(
    overrides: list[str] | None = None, return_hydra_config: bool = False
) -> DictConfig:
    """The config as the CLI composes it, from the package llmhpo.conf; `return_hydra_config`:
    with the `hydra` node (an experiment's sweeper params)."""
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        return compose(
            config_name="config",
            overrides=overrides or [],
            return_hydra_config=return_hydra_config,
        )
