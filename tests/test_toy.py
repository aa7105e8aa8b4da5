import math

import numpy as np
import pytest

from llmhpo.objectives.toy import SHIFT, TOY_FUNCTIONS, ToyObjective, get_toy_function

PAPER_FUNCTIONS = [
    "rosenbrock",
    "branin",
    "himmelblau",
    "ackley",
    "quadratic2d",
    "quadratic2d_10",
    "shifted_rosenbrock",
    "shifted_branin",
    "shifted_himmelblau",
    "shifted_ackley",
]


def test_the_paper_suite_is_complete():
    assert sorted(TOY_FUNCTIONS) == sorted(PAPER_FUNCTIONS)


@pytest.mark.parametrize("name", PAPER_FUNCTIONS)
def test_known_minimum_at_every_optimum(name):
    function = get_toy_function(name)
    assert function.optima, "every function keeps at least one optimum inside its domain"
    for x1, x2 in function.optima:
        assert function.x1_range[0] <= x1 <= function.x1_range[1]
        assert function.x2_range[0] <= x2 <= function.x2_range[1]
        assert function(x1, x2) == pytest.approx(function.minimum, abs=1e-5)


@pytest.mark.parametrize("name", PAPER_FUNCTIONS)
def test_minimum_is_a_lower_bound_on_a_grid(name):
    function = get_toy_function(name)
    grid = np.meshgrid(np.linspace(*function.x1_range, 301), np.linspace(*function.x2_range, 301))
    values = function(*grid)
    assert values.min() >= function.minimum - 1e-9
    assert values.min() < function.minimum + 1.0  # the grid gets near it


def test_reference_values():
    assert get_toy_function("branin").minimum == pytest.approx(0.397887, abs=1e-6)
    assert get_toy_function("rosenbrock")(0.0, 0.0) == 1.0
    assert get_toy_function("quadratic2d_10")(-4.15, 4.35) == pytest.approx(10.0)
    assert get_toy_function("himmelblau")(0.0, 0.0) == 170.0
    assert get_toy_function("ackley")(0.0, 0.0) == pytest.approx(0.0, abs=1e-12)


def test_shift_moves_the_function_not_the_domain():
    plain, shifted = get_toy_function("rosenbrock"), get_toy_function("shifted_rosenbrock")
    assert shifted.optima == ((1 + SHIFT[0], 1 + SHIFT[1]),)
    assert shifted.x1_range == plain.x1_range
    assert shifted(1.5, -2.0) == plain(1.5 - SHIFT[0], -2.0 - SHIFT[1])
    # Branin's third optimum (3 pi + 0.93) leaves the domain [-5, 10] and is dropped.
    assert len(get_toy_function("shifted_branin").optima) == 2


def test_objective_reports_value_and_regret():
    objective = ToyObjective("branin")
    result = objective.evaluate({"x1": math.pi, "x2": 2.275})
    assert result.value == pytest.approx(0.397887, abs=1e-6)
    assert result.metrics["regret"] == pytest.approx(0.0, abs=1e-6)
    assert objective.search_space.names == ["x1", "x2"]
    assert objective.name == "toy-branin"


def test_unknown_function_is_named():
    with pytest.raises(
        ValueError, match="unknown toy function 'branni'; choose objective.function"
    ):
        ToyObjective("branni")
