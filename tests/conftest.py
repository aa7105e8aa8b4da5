"""Shared test helpers: the composed config through Hydra's API, and the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

import llmhpo.run_folder  # noqa: F401  (registers the run-name resolver)
from llmhpo.study import TRIALS_FILE

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"


def trial_lines(folder: Path) -> list[dict]:
    """A run folder's trials.jsonl as the plain dicts a reader of the file sees."""
    return [json.loads(line) for line in (folder / TRIALS_FILE).read_text().splitlines()]


def shipped_config(group: str, name: str, **overrides) -> dict:
    """`conf/GROUP/NAME.yaml` as shipped, with overrides: tests follow the real defaults."""
    return {**OmegaConf.to_container(OmegaConf.load(CONF / group / f"{name}.yaml")), **overrides}


def compose_config(overrides: list[str] | None = None) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=overrides or [])


def run_cli(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `python -m llmhpo.run ARGS` in `cwd`, as a user would; `.stdout` has both streams."""
    env = {**os.environ, "HYDRA_FULL_ERROR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "llmhpo.run", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def cli(tmp_path: Path):
    def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return run_cli(list(args), tmp_path, timeout)

    return _run
