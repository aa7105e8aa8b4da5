"""The study's one ledger of rounds: which are out for evaluation, and when each may settle.

A round settles (is logged, and is the tuners' history) once its result is known and every
earlier round has settled, so the trial log and the tuner see rounds in order whatever
order parallel workers finish them in. Each hold and settle is also an event, in the order
it happened: tuners that keep a library's state (and the pruner) read the events they have
not read yet when they are next asked. A batch's rounds are held together: replayed from
the log, they settle when the batch closes, as they did live, so a resumed tuner hears
them in the order an uninterrupted one did. A study that ran its whole budget and was given
a larger one closed its last batch at the old budget; those budgets (`ends`) close a batch in
the replay too.

Where trials run beside each other and a freed worker gets the next one at once (an
asynchronous study, `in_order=False`), a round settles as soon as its result is known,
whatever round is before it: the tuners learn from each result the moment it is told, and
the log holds the rounds in the order they were told.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from llmhpo.store.ledger import Event
from llmhpo.store.trial_log import TrialRecord, TrialRequest

Held = TrialRequest | TrialRecord  # a request out for evaluation, or a round known at once


class Rounds:
    """The settled rounds of a study and the held ones after them, in round order, and the
    events that made them so (a `store.Ledger`). A held round is a request until its record
    is known; a round replayed from the log, or an invalid one, is held as its record."""

    def __init__(
        self, batch_size: int, budget: int, ends: Iterable[int] = (), in_order: bool = True
    ):
        """`in_order`: a round settles once every earlier one has (batches); False: as soon as
        its result is known (an asynchronous study)."""
        self.batch_size = batch_size
        self.budget = budget
        self.ends = frozenset(ends)  # earlier budgets the study ran to the end
        self.in_order = in_order
        self.settled: list[TrialRecord] = []
        self._held: list[Held] = []  # not settled yet, in round order
        self._known: dict[int, TrialRecord] = {}  # held rounds whose record is known, in the
        # order they became known
        self._replayed: set[int] = set()  # held rounds read from the log (already logged)
        self._batch_configs = 0  # configurations handed out in the open batch
        self.events: list[Event] = []  # every hold and settle, in order

    @property
    def next(self) -> int:
        """The round the next proposal is for."""
        return len(self.settled) + len(self._held)

    @property
    def pending(self) -> list[Held]:
        """The held rounds, not settled yet, in round order."""
        return list(self._held)

    def hold(self, held: Held, replayed: bool, known: bool | None = None) -> bool:
        """Hold a request (or a round's record: replayed from the log, or invalid, known at
        once unless `known` is False: an asynchronous study's replayed round, told later in
        the replay as it was live); returns whether it closed the batch (the batch's last
        configuration, or the budget's last round)."""
        self._held.append(held)
        self.events.append(Event("held", held, replayed))
        if isinstance(held, TrialRecord) and known is not False:
            self._known[held.round] = held
        if replayed:
            self._replayed.add(held.round)
        if held.config is not None:
            self._batch_configs += 1
        closed = (
            self._batch_configs >= self.batch_size
            or self.next >= self.budget
            or self.next in self.ends
        )
        if closed:
            self._batch_configs = 0
        return closed

    def alone(self, held: Held) -> bool:
        """Whether `held` is the only round held (no earlier one waits for its result)."""
        return len(self._held) == 1 and self._held[0] is held

    def holds(self, request: TrialRequest) -> bool:
        """Whether `request` is held (this very request) and waits for its result."""
        waiting = request.round not in self._known
        return waiting and any(held is request for held in self._held)

    def know(self, record: TrialRecord) -> None:
        """The record of a held round: it settles in its turn."""
        self._known.setdefault(record.round, record)

    def waiting(self) -> list[Held]:
        """The held rounds whose result is not known yet."""
        return [held for held in self._held if held.round not in self._known]

    def settle_all(self) -> None:
        """Settle every round whose turn has come, for a reader that logs nothing (the
        Optuna sampler's ledger of an Optuna study's history)."""
        for _ in self.settle():
            pass

    def settle(self) -> Iterator[tuple[TrialRecord, bool]]:
        """Each round at the head whose record is known, with whether it was replayed (so
        already in the log), moved to `settled` after the caller has logged it (every known
        round, in the order they became known, where rounds settle out of order)."""
        while self._held and (not self.in_order or self._held[0].round in self._known):
            if self.in_order:
                round_index = self._held.pop(0).round
            elif self._known:
                round_index = next(iter(self._known))
                self._held = [held for held in self._held if held.round != round_index]
            else:
                return
            record = self._known.pop(round_index)
            replayed = round_index in self._replayed
            self._replayed.discard(round_index)
            yield record, replayed
            self.settled.append(record)
            self.events.append(Event("settled", record, replayed))
