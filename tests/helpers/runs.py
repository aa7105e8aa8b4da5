"""Running llmhpo as a user does (the CLI in a subprocess) and reading what a run wrote."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from llmhpo.store.folder import RUNNING_FILE, TRIALS_FILE


def trial_lines(folder: Path) -> list[dict]:
    """A run folder's trials.jsonl as the plain dicts a reader of the file sees."""
    return [json.loads(line) for line in (folder / TRIALS_FILE).read_text().splitlines()]


def run_folders(root: Path) -> list[Path]:
    """The run folders directly under `root` (a multirun's, or outputs/)."""
    return sorted(path.parent for path in root.glob("*/study.json"))


def run_cli(
    args: list[str],
    cwd: Path,
    timeout: float = 120,
    split: bool = False,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run `python -m llmhpo.run ARGS` in `cwd`, as a user would; `.stdout` has both streams
    unless `split` keeps stderr apart; `env` adds variables to this process's environment."""
    env = {**os.environ, "HYDRA_FULL_ERROR": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "llmhpo.run", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if split else subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


def assert_no_trace(secret: str, root: Path, result: subprocess.CompletedProcess) -> list[Path]:
    """`secret` is in no file under `root` and in neither output stream; returns the files."""
    files = [p for p in root.rglob("*") if p.is_file()]
    for path in files:
        assert secret.encode() not in path.read_bytes(), f"the key leaked into {path}"
    assert secret not in result.stdout + (result.stderr or "")
    return files


def wait_for(condition, seconds: float = 60):
    """Poll `condition` every tenth of a second until it returns something true; return that
    (an assertion error after `seconds`)."""
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return value


def running_trials(folder: Path) -> list[dict]:
    """A study's running.json entries (trials out on workers, with their job ids), or none
    while the file is absent or being replaced."""
    try:
        return json.loads((folder / RUNNING_FILE).read_text())["running"]
    except (FileNotFoundError, ValueError):
        return []
