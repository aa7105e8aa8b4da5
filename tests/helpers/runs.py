"""Running llmhpo as a user does (the CLI in a subprocess) and reading what a run wrote."""

import json
import os
import subprocess
import sys
from pathlib import Path

from llmhpo.run_folder import TRIALS_FILE


def trial_lines(folder: Path) -> list[dict]:
    """A run folder's trials.jsonl as the plain dicts a reader of the file sees."""
    return [json.loads(line) for line in (folder / TRIALS_FILE).read_text().splitlines()]


def run_cli(
    args: list[str], cwd: Path, timeout: float = 120, split: bool = False
) -> subprocess.CompletedProcess:
    """Run `python -m llmhpo.run ARGS` in `cwd`, as a user would; `.stdout` has both streams
    unless `split` keeps stderr apart."""
    env = {**os.environ, "HYDRA_FULL_ERROR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "llmhpo.run", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if split else subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
