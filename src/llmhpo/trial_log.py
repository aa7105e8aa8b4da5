"""The append-only trial log (`trials.jsonl`): the study's only source of truth.

One JSON line per finished trial, flushed and fsynced before the next trial
starts, so a kill -9 loses at most the trial in flight. Reading tolerates the
one defect such a kill can leave, a torn last line, and repairs the file so
later appends start on a clean line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import stat
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from llmhpo.errors import LlmhpoError

log = logging.getLogger(__name__)

Status = Literal["ok", "failed", "invalid"]
STATUSES: tuple[Status, ...] = ("ok", "failed", "invalid")


@dataclass
class TrialRecord:
    """One evaluated (or rejected) proposal.

    `proposed` is what the tuner produced, `config` what was evaluated after
    validation (None when the proposal was invalid). `tuner` holds whatever
    the tuner wants to remember (sampler, LLM answers, tokens, cost).
    """

    round: int
    status: Status
    config: dict[str, Any] | None
    proposed: Any = None
    value: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0
    ask_seconds: float = 0.0
    tuner: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(_finite(asdict(self)), allow_nan=False, default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialRecord:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


class TrialLogError(LlmhpoError, RuntimeError):
    """The trial log is damaged in a way that a crash cannot explain."""


@dataclass
class LogScan:
    """What `TrialLog.scan` found: (line number, record) pairs and the unreadable lines."""

    records: list[tuple[int, TrialRecord]]
    bad_lines: list[tuple[int, str]]  # (line number, why) before the last line
    torn_last_line: int | None  # an unreadable last line: a crash while writing it
    missing_final_newline: bool


class TrialLog:
    """A study's `trials.jsonl`: appended one fsynced line per round, read back on resume;
    the only record of what a study has done, so every reader goes through here."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def scan(self) -> LogScan:
        """Read without judging or changing anything: the readable records, and which lines
        are not (the study's `read` and the aggregation each decide what that means)."""
        if not self.path.exists():
            return LogScan([], [], None, False)
        raw = self.path.read_bytes()
        lines = raw.split(b"\n")
        last_number = max((n for n, line in enumerate(lines, start=1) if line.strip()), default=0)
        scan = LogScan([], [], None, raw != b"" and not raw.endswith(b"\n"))
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = TrialRecord.from_dict(json.loads(line))
            except (ValueError, TypeError) as error:
                if number == last_number:
                    scan.torn_last_line = number
                else:
                    scan.bad_lines.append((number, str(error)))
                continue
            scan.records.append((number, record))
        return scan

    def read(self) -> list[TrialRecord]:
        """All finished trials, in order, for the study that owns the log: a torn last line is
        dropped with a warning and the file repaired, so the next append starts cleanly."""
        scan = self.scan()
        records = self._checked(scan)
        if scan.torn_last_line is not None:
            log.warning(
                "%s: dropping torn last line %d (the trial in flight when the run "
                "was killed); it will be run again",
                self.path,
                scan.torn_last_line,
            )
        if scan.torn_last_line is not None or scan.missing_final_newline:
            self._rewrite(records)
        return records

    def read_only(self) -> list[TrialRecord]:
        """All finished trials, in order, never writing the file: for a reader of another
        study's log (it may be running, or read-only); a torn last line is left out."""
        return self._checked(self.scan())

    def _checked(self, scan: LogScan) -> list[TrialRecord]:
        """The records of a scan, or TrialLogError for damage that a crash cannot explain."""
        if scan.bad_lines:
            number, error = scan.bad_lines[0]
            raise TrialLogError(
                f"{self.path}, line {number}, is not a trial record ({error}). "
                "Only the last line can be torn by a crash; restore the line or move the "
                "file away to start the study afresh."
            )
        records: list[TrialRecord] = []
        for number, record in scan.records:
            if record.round != len(records):
                raise TrialLogError(
                    f"{self.path}, line {number}: expected round {len(records)}, found "
                    f"round {record.round}. The log must list rounds 0, 1, 2, ... in order; "
                    "was it edited or written by two runs at once?"
                )
            records.append(record)
        return records

    def append(self, record: TrialRecord) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = record.to_json() + "\n"
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def _rewrite(self, records: list[TrialRecord]) -> None:
        """Atomically replace the file with exactly these records."""
        write_atomic(self.path, "".join(record.to_json() + "\n" for record in records))


def _finite(data: Any) -> Any:
    """Replace NaN and infinities by None: strict JSON has no such numbers."""
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(value) for value in data]
    return data


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
    write_atomic(path, json.dumps(_finite(data), indent=2, default=str) + "\n")
