"""The loop's bookkeeping alone: which held rounds settle, when, and in what order, and the
events that tell the tuners so."""

from llmhpo.store.trial_log import Status, TrialRecord, TrialRequest, TrialResult
from llmhpo.study.rounds import Rounds


def request(round_index: int) -> TrialRequest:
    return TrialRequest(round=round_index, config={"x": float(round_index)})


def result_of(held: TrialRequest) -> TrialRecord:
    return TrialRecord.of(held, TrialResult(Status.OK, value=held.config["x"]))


def invalid(round_index: int) -> TrialRecord:
    return TrialRecord(round=round_index, status=Status.INVALID, config=None, error="no")


def settled(rounds: Rounds) -> list[tuple[int, bool]]:
    return [(r.round, replayed) for r, replayed in rounds.settle()]


def test_a_batch_closes_at_its_size_and_at_the_budgets_end():
    rounds = Rounds(batch_size=2, budget=3)
    assert [rounds.hold(request(i), replayed=False) for i in range(3)] == [False, True, True]
    assert rounds.next == 3


def test_results_told_out_of_order_settle_in_round_order():
    rounds = Rounds(batch_size=3, budget=3)
    held = [request(i) for i in range(3)]
    for r in held:
        rounds.hold(r, replayed=False)
    assert rounds.pending == held and rounds.waiting() == held
    rounds.know(result_of(held[2]))
    assert settled(rounds) == []  # round 2 waits for rounds 0 and 1
    rounds.know(result_of(held[0]))
    assert settled(rounds) == [(0, False)]
    rounds.know(result_of(held[1]))
    assert settled(rounds) == [(1, False), (2, False)]
    assert [r.round for r in rounds.settled] == [0, 1, 2]
    assert all(isinstance(r, TrialRecord) for r in rounds.settled)
    assert rounds.waiting() == [] and rounds.pending == []


def test_replayed_and_invalid_rounds_are_known_at_once_and_say_they_were_replayed():
    rounds = Rounds(batch_size=2, budget=4)
    rounds.hold(result_of(request(0)), replayed=True)
    refused = invalid(1)
    rounds.hold(refused, replayed=False)
    assert not rounds.alone(refused)  # round 0 is held before it: it does not settle alone
    assert rounds.waiting() == []
    assert settled(rounds) == [(0, True), (1, False)]


def test_only_the_very_request_held_and_waiting_is_held():
    rounds = Rounds(batch_size=1, budget=2)
    held = request(0)
    rounds.hold(held, replayed=False)
    assert rounds.holds(held)
    assert not rounds.holds(request(0))  # an equal copy is not the request handed out
    rounds.know(result_of(held))
    assert not rounds.holds(held)  # told once: a second tell is refused by the loop


def test_every_hold_and_settle_is_an_event_in_the_order_it_happened():
    rounds = Rounds(batch_size=2, budget=4)
    first, second = request(0), request(1)
    rounds.hold(first, replayed=False)
    rounds.hold(second, replayed=False)
    rounds.know(result_of(second))
    rounds.know(result_of(first))
    list(rounds.settle())
    kinds = [(event.kind, event.record.round) for event in rounds.events]
    assert kinds == [("held", 0), ("held", 1), ("settled", 0), ("settled", 1)]
    assert isinstance(rounds.events[0].record, TrialRequest)
    assert isinstance(rounds.events[2].record, TrialRecord)
