"""Writing and reading a run folder's JSON files so that a crash never leaves half a file.

Every file a study rewrites (study.json, summary.json, optimization_results.yaml, the LLM
cache's entries) goes through `write_atomic`; the trial log, which only grows, has its own
appends (trial_log.py). Readers get `DamagedFileError` naming the file, and decide what
damage means to them.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from llmhpo.errors import LlmhpoError


class DamagedFileError(LlmhpoError):
    """A run folder's JSON file cannot be read; the message names the file."""


def read_json(path: Path) -> Any:
    """A run folder's JSON file (study.json, summary.json). Callers decide what damage means:
    the study ignores a damaged summary, the aggregation reports it, a claim refuses."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        why = f"{type(error).__name__}: {error}"
        raise DamagedFileError(f"{path} cannot be read ({why})") from error


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` so that a reader never sees half a file, and a crash or power
    loss leaves the old file or the new one: a temporary file of a unique name (two processes
    never share one) is written and fsynced, renamed over `path`, and the folder fsynced so
    the rename itself is durable."""
    path = Path(path)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file private (0600); give it the mode a plain write would have.
        os.fchmod(handle, stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON atomically and durably (summary.json, study.json, cache entries)."""
    write_atomic(path, json.dumps(json_safe(data), indent=2, default=str) + "\n")


def json_safe(data: Any) -> Any:
    """`data` with NaN and infinities replaced by None: strict JSON has no such numbers. Copies
    every dict and list it passes (so a caller need not copy first)."""
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {key: json_safe(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [json_safe(value) for value in data]
    return data
