"""tuner=bo tuner.backend=smac: SMAC3's HyperparameterOptimizationFacade through ask/tell."""

import pytest
from ConfigSpace import CategoricalHyperparameter as Categorical
from ConfigSpace import UniformFloatHyperparameter as Float
from ConfigSpace import UniformIntegerHyperparameter as Integer

from llmhpo.objectives.toy import ToyObjective
from llmhpo.space import CategoricalParam, FloatParam, IntParam, SearchSpace, SearchSpaceError
from llmhpo.study import Study
from llmhpo.tuners.smac import SMACTuner, configspace
from tests.helpers.objectives import FlakyObjective
from tests.helpers.runs import trial_lines


def test_every_parameter_kind_converts(tmp_path):
    space = SearchSpace(
        [
            FloatParam("lr", 1e-4, 1e-1, log=True),
            FloatParam("ls", 0.0, 0.2),
            IntParam("depth", 2, 12),
            IntParam("units", 8, 1024, log=True),
            CategoricalParam("optimizer", ("adam", "sgd")),
            CategoricalParam("batch", (32, 64, 128)),
        ]
    )
    cs = configspace(space, seed=0)
    hp = {h.name: h for h in cs.values()}
    assert (
        isinstance(hp["lr"], Float)
        and hp["lr"].log
        and (hp["lr"].lower, hp["lr"].upper) == (1e-4, 1e-1)
    )
    assert isinstance(hp["ls"], Float) and not hp["ls"].log
    assert isinstance(hp["depth"], Integer) and (hp["depth"].lower, hp["depth"].upper) == (2, 12)
    assert isinstance(hp["units"], Integer) and hp["units"].log
    assert isinstance(hp["optimizer"], Categorical) and list(hp["optimizer"].choices) == [
        "adam",
        "sgd",
    ]
    assert list(hp["batch"].choices) == [32, 64, 128]
    tuner = SMACTuner(space, 0, crash_cost=1.0, folder=tmp_path)
    for _ in range(3):
        proposal = tuner.ask().config
        assert space.validate(proposal) == proposal  # plain Python values, inside the space
        assert type(proposal["optimizer"]) is str and type(proposal["batch"]) is int
        tuner._asked = None  # not held or told: each ask stands alone here


def test_unbounded_parameter_is_refused_clearly():
    with pytest.raises(SearchSpaceError, match="SMAC cannot search it"):
        configspace(SearchSpace([FloatParam("lr", 0.0, None, low_exclusive=True)]), 0)


def run(folder, budget, seed=0, objective=None):
    objective = objective or ToyObjective("branin")
    tuner = SMACTuner(objective.search_space, seed, task=objective.task, folder=folder)
    Study(folder, objective.search_space, tuner, objective, budget).run()
    return trial_lines(folder), tuner


@pytest.mark.slow
def test_same_seed_same_proposals(tmp_path):
    a, _ = run(tmp_path / "a", 8)
    b, _ = run(tmp_path / "b", 8)
    c, _ = run(tmp_path / "c", 8, seed=1)
    assert [r["config"] for r in a] == [r["config"] for r in b]
    assert [r["config"] for r in a] != [r["config"] for r in c]


@pytest.mark.slow
def test_resumed_study_matches_an_uninterrupted_one(tmp_path):
    whole, _ = run(tmp_path / "whole", 9)
    run(tmp_path / "part", 5)
    (tmp_path / "part" / "summary.json").unlink()
    resumed, _ = run(tmp_path / "part", 9)
    assert [r["config"] for r in resumed] == [r["config"] for r in whole]


def test_failed_trials_are_told_as_crashes(tmp_path):
    records, tuner = run(tmp_path, 6, objective=FlakyObjective(fail_on={1, 4}))
    assert [r["status"] for r in records].count("failed") == 2
    history = tuner.smac.runhistory
    costs = sorted(value.cost for value in history._data.values())
    assert costs.count(tuner.crash_cost) == 2
    assert tuner.crash_cost == pytest.approx(ToyObjective("branin").task.worst_value)


@pytest.mark.slow
def test_twenty_trial_study_on_branin_stays_in_its_run_folder(cli, tmp_path):
    result = cli("objective=toy", "tuner=bo", "tuner.backend=smac", "budget=20", timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outputs"]  # nothing in the working dir
    (folder,) = list((tmp_path / "outputs").iterdir())
    assert folder.name.startswith("toy-branin_bo-smac_seed0_")
    lines = trial_lines(folder)
    assert [line["status"] for line in lines] == ["ok"] * 20
    assert (folder / "smac").is_dir() and any((folder / "smac").rglob("*.json"))
    assert "round 19" in (folder / "run.log").read_text()  # SMAC left Hydra's logging alone


@pytest.mark.slow
def test_two_processes_with_one_seed_propose_the_same(cli, tmp_path):
    """SMAC orders candidates through a set: `python -m llmhpo.run` fixes PYTHONHASHSEED."""
    configs = []
    for name in ("a", "b"):
        result = cli(
            "objective=toy", "tuner=bo", "tuner.backend=smac", "budget=6", f"hydra.run.dir={name}"
        )
        assert result.returncode == 0, result.stdout[-2000:]
        configs.append([line["config"] for line in trial_lines(tmp_path / name)])
    assert configs[0] == configs[1]
