import pytest

from llmhpo.training.schedule import warmup_linear


def test_reference_schedule_shape():
    steps_per_epoch, epochs = 10, 20
    total = steps_per_epoch * epochs
    peak_step = (epochs // 5) * steps_per_epoch
    factor = warmup_linear(peak_step, total)
    assert factor(0) == 0.0
    assert factor(peak_step // 2) == pytest.approx(0.5)
    assert factor(peak_step) == 1.0
    assert factor((peak_step + total) // 2) == pytest.approx(0.5)
    assert factor(total) == 0.0
    values = [factor(step) for step in range(total + 1)]
    assert values.index(max(values)) == peak_step
    assert all(a <= b for a, b in zip(values[:peak_step], values[1 : peak_step + 1], strict=True))
    assert all(a >= b for a, b in zip(values[peak_step:], values[peak_step + 1 :], strict=False))


def test_no_warmup_below_five_epochs_starts_at_the_peak():
    factor = warmup_linear(0, 8)
    assert factor(0) == 1.0 and factor(4) == 0.5 and factor(8) == 0.0


def test_single_step_survives():
    factor = warmup_linear(0, 1)
    assert factor(0) == 1.0
    assert warmup_linear(5, 1)(0) == 0.0  # warm-up longer than the run is cut to the run
