"""tuner=bo tuner.backend=smac: SMAC3's HyperparameterOptimizationFacade through ask/tell."""

import gc
import json
import os
import subprocess
import sys
import tempfile

import pytest
from ConfigSpace import CategoricalHyperparameter as Categorical
from ConfigSpace import UniformFloatHyperparameter as Float
from ConfigSpace import UniformIntegerHyperparameter as Integer

from llmhpo.objectives.toy import ToyObjective
from llmhpo.space import CategoricalParam, FloatParam, IntParam, SearchSpace, SearchSpaceError
from llmhpo.study import StudyLoop
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


def test_without_a_run_folder_smac_writes_to_a_temporary_one_taken_away_with_the_tuner(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    tuner = SMACTuner(SearchSpace([FloatParam("x", 0.0, 1.0)]), 0, crash_cost=1.0)
    tuner.ask()
    [output] = tmp_path.glob("llmhpo-smac-*")
    assert any(output.rglob("*.json"))
    del tuner
    gc.collect()
    assert not output.exists()


def test_unbounded_parameter_is_refused_clearly():
    with pytest.raises(SearchSpaceError, match="SMAC cannot search it"):
        configspace(SearchSpace([FloatParam("lr", 0.0, None, low_exclusive=True)]), 0)


def run(folder, budget, seed=0, objective=None):
    objective = objective or ToyObjective("branin")
    tuner = SMACTuner(objective.search_space, seed, task=objective.task, folder=folder)
    StudyLoop(folder, objective.search_space, tuner, objective, budget).run()
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
    tuner.ask()  # SMAC follows the study's rounds when it is next asked: all six told
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


SMAC_SCRIPT = """
import json, sys, llmhpo
space = {"x": {"type": "float", "low": -5.0, "high": 5.0}, "n": {"type": "int", "low": 1, "high": 8},
         "act": {"type": "categorical", "choices": ["relu", "tanh", "gelu"]}}
study = llmhpo.Study(space, "smac", budget=6, seed=0, crash_cost=100.0, folder=sys.argv[1])
for _ in range(int(sys.argv[2])):  # then stop, as a killed script does
    trial = study.ask()
    study.tell(trial, (trial.config["x"] - 1) ** 2 + trial.config["n"] + (trial.config["act"] == "relu"))
print(json.dumps([t.config for t in study.trials]))
"""


def test_smac_through_the_api_is_reproducible_whatever_the_hash_seed(tmp_path):
    """SMAC's local search ordered its start points through a set (string hashing): only the
    CLI fixed PYTHONHASHSEED, so API studies diverged at round 3 in each process, and a
    resumed one differed from an uninterrupted one. Three processes, three hash seeds."""
    (tmp_path / "smac_study.py").write_text(SMAC_SCRIPT)

    def run(folder: str, rounds: int, hash_seed: str) -> list[dict]:
        result = subprocess.run(
            [sys.executable, "smac_study.py", folder, str(rounds)], cwd=tmp_path,
            capture_output=True, text=True, timeout=300,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout.splitlines()[-1])

    whole = run("whole", 6, "1")
    assert run("resumed", 3, "2") == whole[:3]
    assert run("resumed", 3, "3") == whole  # resumed in another process, another hash seed
