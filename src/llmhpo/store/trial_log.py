"""The append-only trial log (`trials.jsonl`): the study's only source of truth.

One JSON line per finished trial (in round order; in the order they were told where trials
run beside each other, each line then saying when its trial was asked), written to the file
(the kernel's) before the tuner hears of the trial, so a kill -9 loses at most the trial in
flight. Each line is fsynced too, but within `FSYNC_INTERVAL_SECONDS` (group commit): a
trial told that long after the last fsync is fsynced at once, and lines told sooner are
fsynced together by the next such trial or by a timer at the end of the interval, so a study
of cheap trials (microseconds of objective) is not held to one disk flush per trial. A power
loss or kernel crash can lose the trials told in the last interval, never a clean exit
(closing the log fsyncs what is pending). Reading tolerates the one defect a crash can
leave, a torn last line, and repairs the file so later appends start on a clean line.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any, TypedDict

from llmhpo.errors import ConfigError, LlmhpoError
from llmhpo.progress import as_step, as_value
from llmhpo.store.files import json_safe, write_atomic

log = logging.getLogger(__name__)

# The longest a told trial waits for its fsync while trials are cheap (see the module's text).
FSYNC_INTERVAL_SECONDS = 0.5


class Status(str, Enum):
    """How a round ended; a string, so the log and every comparison read it as one."""

    OK = "ok"  # evaluated, with a value
    FAILED = "failed"  # the objective raised or returned no number; `error` says why
    INVALID = "invalid"  # nothing was evaluated: the tuner's proposal did not fit the space
    PRUNED = "pruned"  # stopped after its last reported step; its value is that step's

    def __str__(self) -> str:
        return self.value


STATUSES: tuple[Status, ...] = tuple(Status)


class TunerInfo(TypedDict, total=False):
    """What a tuner logs about a round in `TrialRecord.tuner`: every key any tuner writes,
    named once here for its readers (the prompts, the summary, the Optuna sampler, the
    aggregation). A tuner writes the keys that concern it and no others."""

    # who proposed the evaluated configuration: llm, random or bo (an LLM round's fallback or
    # a hybrid's BO share), initial (a start from given configurations); and why (the
    # hybrid's routing)
    proposer: str
    why: str
    sampler: str  # tuner=bo: Optuna's sampler
    backend: str  # tuner=smac
    source: str  # tuner=fixed: where its configuration came from
    bo: dict[str, Any]  # the BO tuner's own info, for a round whose configuration it proposed
    # tuner=llm (and hybrid's LLM rounds): the request, every answer, and their cost
    model: str
    prompt_format: str
    cot: bool
    attempts: int  # LLM calls this round (1 + retries after rejected answers)
    answer: str | None  # the accepted answer's text; None when every attempt was rejected
    answers: list[str]
    rejections: list[str]  # why each rejected answer was rejected, as told to the LLM
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None  # None where the provider's price is unknown
    llm_seconds: float
    cached_calls: int  # calls answered from the replay cache
    transport_retries: list[str]  # why earlier tries of a call failed (HTTP 429, timeouts)
    fallback: str  # on_invalid's proposer when no answer was valid: random or bo
    invalid_reason: str
    advice: dict[str, Any]  # hybrid advise=true: what BO proposed for this round
    took_advice: bool


@dataclass(frozen=True)
class TrialRequest:
    """What to run: a round's proposal as the tuner made it (`proposed`) and as it is
    evaluated after validation (`config`), with what the tuner logs of it (`TunerInfo`) and
    the seconds it took to ask. `asked_after`: how many trials had been told when it was
    asked, where trials run beside each other (an asynchronous study); None where each
    trial was asked once every earlier one was told."""

    round: int
    config: dict[str, Any]
    proposed: Any = None
    tuner: TunerInfo = field(default_factory=TunerInfo)
    ask_seconds: float = 0.0
    asked_after: int | None = None


@dataclass(frozen=True)
class TrialResult:
    """What came back from a request: its status, its value (what the tuners minimise), the
    metrics as the objective reported them, why it failed (or the step a pruned one stopped
    at), its seconds, and the curve it reported while it ran ([step, value] pairs)."""

    status: Status
    value: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0
    curve: list[list[float]] = field(default_factory=list)


@dataclass(frozen=True)
class TrialRecord:
    """One round as the trial log keeps it: the request joined with its result, or a
    proposal that did not fit the space (`status: invalid`, `config` None, `error` why).

    `proposed` is what the tuner produced, `config` what was evaluated after
    validation. `tuner` holds what the tuner logs about the round (`TunerInfo`: sampler,
    LLM answers, tokens, cost). `curve` holds the [step, value] pairs the objective reported
    while the trial ran (a training trial's validation error after each epoch); a pruned
    trial's `value` is its last one, and its `error` says at which step it was stopped.
    `asked_after`: an asynchronous study's lines are in the order their trials were told,
    and each says how many trials had been told when it was asked, so that a resumed study
    replays its asks and tells in the order they happened; None (left out of the line) where
    the trial was asked after every line before it.
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
    tuner: TunerInfo = field(default_factory=TunerInfo)
    curve: list[list[float]] = field(default_factory=list)
    asked_after: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))  # "ok" as read from a line

    @classmethod
    def of(cls, request: TrialRequest, result: TrialResult) -> TrialRecord:
        """The logged line of a request and what came back from it."""
        return cls(
            round=request.round,
            status=result.status,
            config=request.config,
            proposed=request.proposed,
            value=result.value,
            metrics=result.metrics,
            error=result.error,
            seconds=result.seconds,
            ask_seconds=request.ask_seconds,
            tuner=request.tuner,
            curve=result.curve,
            asked_after=request.asked_after,
        )

    def to_json(self) -> str:
        # json_safe copies every dict and list it passes, so the deep copy of dataclasses.asdict
        # would be a second one (it was most of a cheap trial's cost).
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        if not self.curve:  # the objectives that report no curve keep the lines they had
            del fields["curve"]
        if self.asked_after is None:  # nor do the studies that run one trial at a time
            del fields["asked_after"]
        return json.dumps(json_safe(fields), allow_nan=False, default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialRecord:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


def _without_bad_points(record: TrialRecord) -> tuple[TrialRecord, list[str]]:
    """`record` without the curve points a study cannot replay (a step that is not a whole
    number >= 0 above the one before, a value that is not a finite number), and what was
    dropped, for the warning. A pruned trial left without a point is a failed one."""
    kept: list[list[float]] = []
    dropped: list[str] = []
    for point in record.curve or []:
        try:
            step, value = as_step(point[0]), as_value(point[1])
        except (ConfigError, TypeError, IndexError, KeyError):
            step, value = None, math.nan
        if step is None or not math.isfinite(value) or (kept and step <= kept[-1][0]):
            dropped.append(f"round {record.round}: {point!r}")
            continue
        kept.append([step, value])
    if not dropped:
        return record, dropped
    if record.status == Status.PRUNED and not kept:
        error = f"{record.error} (at a step that cannot be replayed)"
        return replace(record, curve=kept, status=Status.FAILED, error=error), dropped
    return replace(record, curve=kept), dropped


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
        self._handle: Any = None  # open for appending from the first append to `close`
        self._synced_at = -math.inf  # when the last fsync happened (time.monotonic)
        self._pending = False  # lines written since then, not yet fsynced
        self._timer: threading.Timer | None = None  # fsyncs pending lines when none follow
        self._lock = threading.Lock()  # the timer's thread and this one share the handle

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
        dropped: list[str] = []
        told_as_they_ended = any(record.asked_after is not None for _, record in scan.records)
        seen: set[int] = set()
        for number, record in scan.records:
            if told_as_they_ended and record.round in seen:
                raise TrialLogError(
                    f"{self.path}, line {number}: round {record.round} is logged twice; was "
                    "the log edited or written by two runs at once?"
                )
            if not told_as_they_ended and record.round != len(records):
                raise TrialLogError(
                    f"{self.path}, line {number}: expected round {len(records)}, found "
                    f"round {record.round}. The log must list rounds 0, 1, 2, ... in order; "
                    "was it edited or written by two runs at once?"
                )
            seen.add(record.round)
            record, bad = _without_bad_points(record)
            dropped += bad
            records.append(record)
        if dropped:
            log.warning(
                "%s: dropping curve points that no study can replay (%s); they were logged by "
                "an earlier version that did not check reported steps",
                self.path,
                "; ".join(dropped),
            )
        return records

    def append(self, record: TrialRecord) -> None:
        """Write the record's line through to the kernel (a kill -9 cannot lose it), and
        fsync it unless the last fsync was under FSYNC_INTERVAL_SECONDS ago."""
        line = record.to_json() + "\n"
        with self._lock:
            if self._handle is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = self.path.open("a", encoding="utf-8")
            self._handle.write(line)
            self._handle.flush()
            self._pending = True
            waited = time.monotonic() - self._synced_at
            if waited >= FSYNC_INTERVAL_SECONDS:
                self._sync()
            elif self._timer is None:  # a long trial may follow: fsync then at the latest
                self._timer = threading.Timer(FSYNC_INTERVAL_SECONDS - waited, self.sync)
                self._timer.daemon = True
                self._timer.start()

    def sync(self) -> None:
        """Fsync the lines written since the last fsync, if any."""
        with self._lock:
            self._sync()

    def close(self) -> None:
        """Fsync what is pending and close the file (a later append opens it again)."""
        with self._lock:
            self._sync()
            if self._handle is not None:
                self._handle.close()
                self._handle = None

    def _sync(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._handle is not None and self._pending:
            os.fsync(self._handle.fileno())
            self._pending = False
            self._synced_at = time.monotonic()

    def _rewrite(self, records: list[TrialRecord]) -> None:
        """Atomically replace the file with exactly these records."""
        self.close()  # an open handle would go on appending to the replaced file
        write_atomic(self.path, "".join(record.to_json() + "\n" for record in records))
