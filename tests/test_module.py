import math

import pytest
import torch

from llmhpo.training.module import DivergenceGuard, TrialDivergedError


def observe_all(guard, losses, first_step=0):
    for offset, value in enumerate(losses):
        guard.observe(torch.tensor(value), first_step + offset)


def test_guard_names_the_first_bad_step_when_it_looks():
    guard = DivergenceGuard(check_every=4)
    observe_all(guard, [1.0, 2.0, math.nan])  # not looked at yet: no sync before step 3
    with pytest.raises(TrialDivergedError, match="loss diverged at step 2$"):
        guard.observe(torch.tensor(math.inf), 3)


def test_guard_counts_steps_across_windows_and_checks_a_partial_one():
    guard = DivergenceGuard(check_every=3)
    observe_all(guard, [1.0, 1.0, 1.0, 0.5])  # one full window, clean
    guard.observe(torch.tensor(-math.inf), 4)
    with pytest.raises(TrialDivergedError, match="at step 4$"):
        guard.check()  # the end of an epoch looks at what is pending
    assert guard.last_loss.item() == -math.inf


def test_guard_on_the_cpu_stops_at_once():
    guard = DivergenceGuard(check_every=1)
    guard.observe(torch.tensor(3.0), 10)
    with pytest.raises(TrialDivergedError, match="at step 11$"):
        guard.observe(torch.tensor(math.nan), 11)


def test_guard_with_nothing_pending_passes():
    guard = DivergenceGuard(check_every=50)
    guard.check()
    observe_all(guard, [0.1] * 120)
    guard.check()
    assert guard.last_loss.item() == pytest.approx(0.1)
