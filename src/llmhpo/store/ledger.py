"""What a study's ledger of rounds is to its readers: the settled rounds, the pending ones,
and the events (a round held, a round settled) in the order they happened.

The study keeps the ledger (`study.rounds.Rounds`); tuners and the pruner read it when they
are next asked, as Optuna's samplers read the study's storage, and a reader that keeps a
library's state follows the events it has not read yet (`EventCursor`).
"""

from __future__ import annotations

from typing import Literal, NamedTuple, Protocol

from llmhpo.store.trial_log import TrialRecord, TrialRequest


class Event(NamedTuple):
    """A change in a study's rounds, in the order it happened."""

    kind: Literal["held", "settled"]  # out for evaluation; or its result logged, in order
    record: TrialRequest | TrialRecord  # held: the request (the record if known at once)
    replayed: bool  # read back from the trial log on resume (its result and curve in it)


class Ledger(Protocol):
    """What a tuner reads of its study's rounds (the study's `Rounds` keeps them)."""

    settled: list[TrialRecord]
    events: list[Event]

    @property
    def pending(self) -> list[TrialRequest | TrialRecord]: ...

    @property
    def next(self) -> int: ...


class EventCursor:
    """Where a reader of a ledger's events has got to: `unread` hands out each event once."""

    def __init__(self) -> None:
        self.read = 0

    def unread(self, ledger: Ledger | None) -> list[Event]:
        events = [] if ledger is None else ledger.events[self.read :]
        self.read += len(events)
        return events
