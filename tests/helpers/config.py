"""The shipped config, as tests read it: files of llmhpo.conf, the composed config and the
study it builds."""

from pathlib import Path

from hydra import compose, initialize_config_module
from omegaconf import DictConfig, OmegaConf

import llmhpo.resolvers  # noqa: F401  (registers the run-name resolver)
from llmhpo.assemble import opened_study
from llmhpo.conf import CONFIG_MODULE
from llmhpo.store.folder import job_config
from llmhpo.study import StudyLoop

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


def build_study(cfg: DictConfig, folder: Path) -> StudyLoop:
    """The study of a composed config in `folder`, as the CLI's composition root builds it (the
    folder claimed; its lock released again, since the test is the folder's only user)."""
    with opened_study(cfg, folder, job_config(cfg)) as study:
        return study
