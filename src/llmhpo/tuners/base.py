"""What every tuner speaks: `ask` for the next configuration, reading the study's rounds.

A study keeps one ledger of its rounds (`Ledger`): the settled ones (logged, in round order),
the pending ones (out for evaluation: a batch's earlier rounds, or the trials running beside
this one) and the events in the order they happened (a round held, a round settled). A tuner
reads it when asked, as Optuna's samplers read the study's storage: `self.history` and
`self.pending` are the ledger's, and a tuner that keeps a library's state (Optuna's trials,
SMAC's runhistory) brings it up to date from the events it has not read yet
(`EventCursor`). On resume the study replays the trial log into the ledger in the order a
live study held and settled its rounds, so a tuner rebuilds all of its state from records
alone, and a resumed study proposes what an uninterrupted one would have.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from llmhpo.objectives.base import TaskInfo
from llmhpo.space import SearchSpace
from llmhpo.store import Ledger, TrialRecord, TunerInfo


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


# Which held rounds a tuner proposed itself (the others are another tuner's: a given start's,
# an LLM's in a hybrid): decided by the tuner in front of it, from the records.
Owns = Callable[[TrialRecord], bool]


def every_round(record: TrialRecord) -> bool:
    return True


class Tuner(ABC):
    """Proposes configurations (`ask`) from its study's ledger of rounds; its state is rebuilt
    from the ledger alone, so a resumed study proposes what an uninterrupted one would."""

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
        self.ledger: Ledger | None = None  # the study's rounds, once attached
        self.owns: Owns = every_round

    def attach(self, ledger: Ledger, owns: Owns = every_round) -> None:
        """Read `ledger` from now on (the study attaches its own); `owns` says which held
        rounds this tuner proposed itself, where a tuner in front of it proposes others."""
        self.ledger, self.owns = ledger, owns

    @property
    def history(self) -> list[TrialRecord]:
        """The settled rounds, in round order."""
        return [] if self.ledger is None else self.ledger.settled

    @property
    def pending(self) -> list[TrialRecord]:
        """The rounds out for evaluation (a batch's earlier rounds, trials running beside)."""
        return [] if self.ledger is None else self.ledger.pending

    @property
    def round(self) -> int:
        """The round the next `ask` proposes for."""
        return 0 if self.ledger is None else self.ledger.next

    @abstractmethod
    def ask(self) -> Proposal:
        """Propose the configuration for round `self.round`."""

    def summary(self, records: list[TrialRecord]) -> dict[str, Any]:
        """This tuner's own sections of summary.json, counted over `records` (an LLM's calls
        and tokens, who proposed each round); none by default."""
        return {}

    def round_rng(self, round_index: int | None = None) -> np.random.Generator:
        """A generator that depends only on (seed, round): this round's, or `round_index`'s.

        Drawing from it instead of one long-lived generator makes a resumed
        study propose exactly what an uninterrupted one would have.
        """
        return np.random.default_rng(
            [self.seed, self.round if round_index is None else round_index]
        )

    def round_seed(self, round_index: int | None = None) -> int:
        """An integer seed for libraries that take one, derived like `round_rng`."""
        return int(self.round_rng(round_index).integers(2**31 - 1))


class FrontTuner(Tuner):
    """A tuner in front of another (`inner`: the hybrid's LLM tuner, a given start's tuner):
    both read the same ledger; `inner_owns` says which rounds the inner one proposed."""

    inner: Tuner

    def attach(self, ledger: Ledger, owns: Owns = every_round) -> None:
        super().attach(ledger, owns)
        self.inner.attach(ledger, lambda record: owns(record) and self.inner_owns(record))

    def inner_owns(self, record: TrialRecord) -> bool:
        return True

    def summary(self, records: list[TrialRecord]) -> dict[str, Any]:
        """The inner tuner's sections, and who proposed each round (this tuner or it)."""
        return {**self.inner.summary(records), **proposer_counts(records)}


def proposer_counts(records: list[TrialRecord]) -> dict[str, Any]:
    """`{"proposers": {"llm": 7, "random": 3}}`: whose configuration each round evaluated
    (llm, bo, random, initial), for tuners whose rounds say so; empty where none does."""
    proposers = Counter(r.tuner["proposer"] for r in records if "proposer" in r.tuner)
    return {"proposers": dict(sorted(proposers.items()))} if proposers else {}
