"""The ask/tell interface every tuner speaks (Optuna's idiom).

The study loop calls `ask()` for the next proposal, `hold(record)` with the round it
became, and `tell(record)` with the finished trial. Several rounds may be held at once
(a batch sent to parallel workers): a tuner proposing round j has heard every result
before the batch and knows the configurations of the batch's earlier rounds. On resume
the loop replays the trial log through `hold` and `tell` in the order a live study
called them, so a tuner must rebuild all of its state from records alone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from llmhpo.objectives.base import TaskInfo
from llmhpo.space import SearchSpace
from llmhpo.store import TrialRecord, TunerInfo


@dataclass
class Proposal:
    """What a tuner suggests: the configuration plus anything worth logging.

    A tuner that could not come up with a configuration (an LLM whose every
    answer was rejected) returns `config=None` with the reason in `error`; the
    round is logged as invalid, and `fatal` stops the study after logging it.
    """

    config: dict[str, Any] | None
    info: TunerInfo = field(default_factory=TunerInfo)
    error: str | None = None
    fatal: bool = False


class Tuner(ABC):
    """Proposes configurations (`ask`) and learns from finished trials (`tell`); its state is
    rebuilt from the trial log alone, so a resumed study proposes what an uninterrupted one
    would."""

    trials: int | None = None  # a tuner that decides the number of trials itself (fixed: 1)

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        name: str,
        task: TaskInfo | None = None,
        folder: Path | None = None,
    ):
        """`task` describes the objective to tuners that read it (the LLM, SMAC's crash
        cost); `folder` is the run folder, for a tuner that keeps files (SMAC)."""
        self.space = space
        self.seed = int(seed)
        self.name = name
        self.task = task
        self.folder = folder
        self.history: list[TrialRecord] = []  # told, in round order
        self.pending: list[TrialRecord] = []  # held, not told yet: a batch's earlier rounds

    @property
    def round(self) -> int:
        """The round the next `ask` proposes for."""
        return len(self.history) + len(self.pending)

    @abstractmethod
    def ask(self) -> Proposal:
        """Propose the configuration for round `self.round`."""

    def hold(self, record: TrialRecord) -> None:
        """The round just asked (live), or a logged round replayed on resume, is out for
        evaluation: the next `ask` proposes the round after it."""
        self.pending.append(record)

    def hold_other(self, record: TrialRecord) -> None:
        """A round that another tuner proposed (a hybrid's LLM, a seeded start) is out for
        evaluation; this tuner hears its result all the same. Tuners whose state follows
        their own asks (Optuna's trials, SMAC's) override it."""
        self.hold(record)

    def tell(self, record: TrialRecord) -> None:
        """Learn from a finished trial (live, or replayed from the log on resume); it was
        held before, and rounds are told in order."""
        self.pending = [held for held in self.pending if held.round != record.round]
        self.history.append(record)

    def summary(self, records: list[TrialRecord]) -> dict[str, Any]:
        """This tuner's own sections of summary.json, counted over `records` (an LLM's calls
        and tokens, who proposed each round); none by default."""
        return {}

    def round_rng(self) -> np.random.Generator:
        """A generator that depends only on (seed, round).

        Drawing from it instead of one long-lived generator makes a resumed
        study propose exactly what an uninterrupted one would have.
        """
        return np.random.default_rng([self.seed, self.round])

    def round_seed(self) -> int:
        """An integer seed for libraries that take one, derived like `round_rng`."""
        return int(self.round_rng().integers(2**31 - 1))


class FrontTuner(Tuner):
    """A tuner in front of another (`inner`: the hybrid's LLM tuner, a seeded start's tuner)
    that passes every round on, so the inner tuner hears all of them. `hold_inner` says how
    a round this tuner proposed reaches the inner one (as its own by default)."""

    inner: Tuner

    def hold(self, record: TrialRecord) -> None:
        super().hold(record)
        self.hold_inner(record)

    def hold_inner(self, record: TrialRecord) -> None:
        self.inner.hold(record)

    def hold_other(self, record: TrialRecord) -> None:
        Tuner.hold(self, record)
        self.inner.hold_other(record)

    def tell(self, record: TrialRecord) -> None:
        super().tell(record)
        self.inner.tell(record)

    def summary(self, records: list[TrialRecord]) -> dict[str, Any]:
        """The inner tuner's sections, and who proposed each round (this tuner or it)."""
        return {**self.inner.summary(records), **proposer_counts(records)}


def proposer_counts(records: list[TrialRecord]) -> dict[str, Any]:
    """`{"proposers": {"llm": 7, "random": 3}}`: whose configuration each round evaluated
    (llm, bo, random, initial), for tuners whose rounds say so; empty where none does."""
    proposers = Counter(r.tuner["proposer"] for r in records if "proposer" in r.tuner)
    return {"proposers": dict(sorted(proposers.items()))} if proposers else {}
