"""The loop's bookkeeping alone: which held rounds settle, when, and in what order."""

from llmhpo.store.trial_log import TrialRecord
from llmhpo.study.rounds import Rounds


def record(round_index: int, valid: bool = True) -> TrialRecord:
    config = {"x": float(round_index)} if valid else None
    return TrialRecord(round=round_index, status="ok" if valid else "invalid", config=config)


def settled(rounds: Rounds) -> list[tuple[int, bool]]:
    return [(r.round, replayed) for r, replayed in rounds.settle()]


def test_a_batch_closes_at_its_size_and_at_the_budgets_end():
    rounds = Rounds(batch_size=2, budget=3)
    assert [rounds.hold(record(i), replayed=False) for i in range(3)] == [False, True, True]
    assert rounds.next == 3


def test_results_told_out_of_order_settle_in_round_order():
    rounds = Rounds(batch_size=3, budget=3)
    held = [record(i) for i in range(3)]
    for r in held:
        rounds.hold(r, replayed=False)
    rounds.know(held[2])
    assert settled(rounds) == []  # round 2 waits for rounds 0 and 1
    rounds.know(held[0])
    assert settled(rounds) == [(0, False)]
    rounds.know(held[1])
    assert settled(rounds) == [(1, False), (2, False)]
    assert [r.round for r in rounds.settled] == [0, 1, 2]
    assert rounds.waiting() == []


def test_replayed_and_invalid_rounds_are_known_at_once_and_say_they_were_replayed():
    rounds = Rounds(batch_size=2, budget=4)
    rounds.hold(record(0), replayed=True)
    invalid = record(1, valid=False)
    rounds.hold(invalid, replayed=False)
    assert not rounds.alone(invalid)  # round 0 is held before it: it does not settle alone
    assert rounds.waiting() == []
    assert settled(rounds) == [(0, True), (1, False)]


def test_only_the_very_record_held_and_waiting_is_held():
    rounds = Rounds(batch_size=1, budget=2)
    held = record(0)
    rounds.hold(held, replayed=False)
    assert rounds.holds(held)
    assert not rounds.holds(record(0))  # an equal copy is not the record handed out
    rounds.know(held)
    assert not rounds.holds(held)  # told once: a second tell is refused by the loop
