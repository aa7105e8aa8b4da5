"""What a trial's curve and result may hold, alike at every door, and that every record the
trial log can hold reopens with every tuner and pruner.

`llmhpo.report` (an objective's own call) and `trial.report` (ask/tell) check a step and a
value with one validator before anything is logged: a point that a resumed study would refuse
must never reach the log, or the folder could not be reopened.
"""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import optuna
import pytest
import torch

import llmhpo
from llmhpo import progress
from llmhpo.errors import ConfigError
from llmhpo.progress import reporting_to
from llmhpo.pruning import PRUNERS
from tests.helpers.config import CONF
from tests.helpers.runs import trial_lines

TUNERS = sorted(path.stem for path in (CONF / "tuner").glob("*.yaml"))
SPACE = llmhpo.SearchSpace.from_dict(
    {
        "x1": {"type": "float", "low": -5.0, "high": 5.0},
        "x2": {"type": "float", "low": -5.0, "high": 5.0},
    },
    default={"x1": 0.0, "x2": 0.0},  # for the default-first tuners
)
OPTIONS = {
    "smac": {"crash_cost": 100.0},
    "fixed": {"config": {"x1": 0.0, "x2": 0.0}},
    "llambo": {"n_candidates": 2, "min_candidates": 1, "surrogate_samples": 1},
}
CONFIG = {"x1": 1.0, "x2": -2.0}

# Every kind of line a trial log can hold, as this version writes it or an earlier one did:
# (the line, its status and curve once read back).
LINES = [
    (
        {"status": "ok", "config": CONFIG, "value": 1.5, "curve": [[1, 2.0], [2, 1.5]]},
        "ok",
        [[1, 2.0], [2, 1.5]],
    ),
    ({"status": "failed", "config": CONFIG, "error": "ValueError: diverged"}, "failed", []),
    (
        {"status": "invalid", "config": None, "proposed": "not json", "error": "no JSON object"},
        "invalid",
        [],
    ),
    (
        {
            "status": "pruned",
            "config": CONFIG,
            "value": 3.0,
            "curve": [[1, 3.0]],
            "error": "pruned at step 1",
        },
        "pruned",
        [[1, 3.0]],
    ),
    (
        {
            "status": "failed",
            "config": CONFIG,
            "error": "RuntimeError: crashed",
            "curve": [[1, 4.0]],
        },
        "failed",
        [[1, 4.0]],
    ),
    ({"status": "ok", "config": CONFIG, "value": 0.5, "metrics": {"metric": 0.5}}, "ok", []),
    (
        {
            "status": "ok",
            "config": CONFIG,
            "value": 0.0,
            "curve": [[0, 1.0], [0, 0.5], [2.5, 0.1], [3, 0.0]],
        },
        "ok",
        [[0, 1.0], [3, 0.0]],
    ),
    # written before steps were checked: a negative step, then a pruned trial at one
    (
        {"status": "failed", "config": CONFIG, "error": "ValueError: bad", "curve": [[-1, 0.5]]},
        "failed",
        [],
    ),
    (
        {
            "status": "pruned",
            "config": CONFIG,
            "value": 0.5,
            "curve": [[-1, 0.5]],
            "error": "pruned at step -1",
        },
        "failed",
        [],
    ),
]


def write_log(folder) -> None:
    folder.mkdir(parents=True)
    lines = [json.dumps({"round": i, **line}) for i, (line, _, _) in enumerate(LINES)]
    (folder / "trials.jsonl").write_text("\n".join(lines) + "\n")


# Every tuner with every pruner; the LLM tuners (seconds a proposal) with the pruner they
# replay nothing into and the one that keeps the most state: their replay is the pruner's own.
COMBINATIONS = [
    (tuner, pruner)
    for tuner in TUNERS
    for pruner in PRUNERS
    if tuner not in ("llm", "hybrid", "centaur", "llambo") or pruner in ("none", "hyperband")
]


@pytest.mark.parametrize(("tuner", "pruner"), COMBINATIONS)
def test_every_kind_of_record_reopens_with_every_tuner_and_pruner(
    tuner, pruner, tmp_path, monkeypatch, caplog
):
    monkeypatch.chdir(tmp_path)  # the LLM tuners' replay cache
    folder = tmp_path / "s"
    write_log(folder)
    budget = len(LINES) + 1
    study = llmhpo.Study(
        SPACE, tuner, budget=budget, folder=folder, pruner=pruner, **OPTIONS.get(tuner, {})
    )
    read = [(t.status, t.curve) for t in study.trials]
    assert read == [(status, curve) for _, status, curve in LINES]
    assert caplog.text.count("dropping curve points") == 1
    trial = study.ask()
    if tuner == "fixed":  # a study of one trial: finished already
        assert trial is None
    else:
        trial.report(1, 2.0)
        study.tell(trial, 1.0)
        assert study.ask() is None
    study.finish()
    again = llmhpo.Study(
        SPACE, tuner, budget=budget, folder=folder, pruner=pruner, **OPTIONS.get(tuner, {})
    )
    assert len(again.trials) == (len(LINES) if tuner == "fixed" else budget)
    again.finish()
    assert [line["round"] for line in trial_lines(folder)] == list(range(len(again.trials)))


BAD_STEPS = [-1, 0.25, 1.7, True, "2", None, float("nan")]
GOOD_STEPS = [(np.int64(2), 2), (2.0, 2), (np.float32(3.0), 3), (0, 0)]
BAD_VALUES = [True, "0.5", [0.5], None, torch.tensor([0.5, 0.4])]
GOOD_VALUES = [np.float32(0.25), np.float64(0.25), torch.tensor(0.25), np.array(0.25), 1]


@pytest.mark.parametrize("step", BAD_STEPS, ids=repr)
def test_a_step_that_is_not_a_whole_number_from_zero_is_refused_at_both_doors(step, tmp_path):
    study = llmhpo.Study(SPACE, "random", budget=2, folder=tmp_path / "s", pruner="median")
    trial = study.ask()
    with pytest.raises(ConfigError, match="report takes the step as a whole number >= 0"):
        trial.report(step, 0.5)
    assert study.curve(trial) == []
    study.tell(trial, 1.0)

    def objective(config):
        llmhpo.report(step, 0.5)
        return 1.0

    summary = study.optimize(objective)  # the trial fails with the same message; nothing logged
    last = trial_lines(tmp_path / "s")[-1]
    assert (
        last["status"] == "failed"
        and "report takes the step as a whole number >= 0" in last["error"]
    )
    assert "curve" not in last and summary["trials"] == 2


@pytest.mark.parametrize("value", BAD_VALUES, ids=repr)
def test_a_value_that_is_not_a_number_is_refused_at_both_doors(value, tmp_path):
    study = llmhpo.Study(SPACE, "random", budget=2, folder=tmp_path / "s")
    trial = study.ask()
    with pytest.raises(ConfigError, match="report takes the trial's metric as a number"):
        trial.report(1, value)
    with pytest.raises(ConfigError, match="tell takes the trial's value"):
        study.tell(trial, value) if value is not None else study.tell(trial, [value])
    study.tell(trial, 1.0)
    study.optimize(lambda config: llmhpo.report(1, value) or 1.0)
    last = trial_lines(tmp_path / "s")[-1]
    assert (
        last["status"] == "failed"
        and "report takes the trial's metric as a number" in last["error"]
    )


@pytest.mark.parametrize(("step", "expected"), GOOD_STEPS, ids=repr)
def test_numpy_steps_and_whole_floats_are_steps(step, expected, tmp_path):
    study = llmhpo.Study(SPACE, "random", budget=1, folder=tmp_path / "s", pruner="median")
    study.optimize(lambda config: llmhpo.report(step, 0.5) or 1.0)
    (line,) = trial_lines(tmp_path / "s")
    assert line["curve"] == [[expected, 0.5]] and type(line["curve"][0][0]) is int


@pytest.mark.parametrize("value", GOOD_VALUES, ids=repr)
def test_numpy_numbers_and_0d_tensors_are_values_in_report_and_tell(value, tmp_path):
    study = llmhpo.Study(SPACE, "random", budget=2, folder=tmp_path / "s", direction="maximize")
    trial = study.ask()
    trial.report(1, value)
    study.tell(trial, value)
    study.optimize(lambda config: llmhpo.report(1, value) or value)
    for line in trial_lines(tmp_path / "s"):
        assert line["status"] == "ok" and line["metrics"]["metric"] == float(value)
        assert line["curve"] == [[1, -float(value)]]  # what the tuners minimise


def test_a_value_told_with_pruned_is_refused_not_dropped(tmp_path):
    study = llmhpo.Study(SPACE, "random", budget=1, folder=tmp_path / "s", pruner="median")
    trial = study.ask()
    trial.report(1, 0.25)
    with pytest.raises(
        ConfigError, match=r"tell\(trial, 0.05, pruned=True\): a pruned trial's value"
    ):
        study.tell(trial, 0.05, pruned=True)
    study.tell(trial, pruned=True)
    study.finish()
    assert trial_lines(tmp_path / "s")[0]["value"] == 0.25


@pytest.mark.parametrize(
    "raised", [llmhpo.TrialPruned, optuna.TrialPruned], ids=["llmhpo", "optuna"]
)
def test_a_trial_stopped_as_pruned_before_any_report_fails_and_the_study_goes_on(raised, tmp_path):
    def objective(config):
        if config["x1"] > 0:  # some trials report first: those are pruned, the others failed
            llmhpo.report(1, config["x1"])
        raise raised()

    summary = llmhpo.Study(SPACE, "random", budget=6, folder=tmp_path / "s").optimize(objective)
    lines = trial_lines(tmp_path / "s")
    assert summary["trials"] == 6
    for line in lines:
        if line["config"]["x1"] > 0:
            assert line["status"] == "pruned" and line["value"] == line["config"]["x1"]
        else:
            assert line["status"] == "failed"
            assert line["error"].startswith("TrialPruned was raised before any step was reported")
    assert {line["status"] for line in lines} == {"pruned", "failed"}
    assert llmhpo.Study(SPACE, "random", budget=6, folder=tmp_path / "s").finish()["trials"] == 6


def test_a_study_whose_objective_raises_past_optimize_frees_its_folder(tmp_path):
    study = llmhpo.Study(SPACE, "random", budget=3, folder=tmp_path / "s")

    def interrupted(config):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        study.optimize(interrupted)
    assert llmhpo.Study(SPACE, "random", budget=3, folder=tmp_path / "s").optimize(lambda c: 1.0)


def test_reports_from_the_objectives_own_threads_reach_the_trial_and_prune_it(tmp_path):
    def train_in_a_thread(config):
        def loop():
            for epoch in range(1, 7):
                llmhpo.report(epoch, (config["x1"] - 1) ** 2 + 10 / epoch)
            return (config["x1"] - 1) ** 2

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(loop).result()  # TrialPruned comes back through result()

    study = llmhpo.Study(SPACE, "random", budget=8, folder=tmp_path / "s", pruner="asha")
    summary = study.optimize(train_in_a_thread)
    lines = trial_lines(tmp_path / "s")
    assert all(line["curve"] for line in lines)
    assert summary["status_counts"]["pruned"] >= 1


def test_a_report_from_an_unknown_thread_while_two_trials_run_is_dropped_with_one_warning(
    monkeypatch,
):
    monkeypatch.setattr(progress, "_WARNED_UNKNOWN_THREAD", False)
    heard = []
    first, second = threading.Event(), threading.Event()

    def trial_thread(name, started):
        with reporting_to(lambda step, value: heard.append(name)):
            started.set()
            done.wait(10)

    done = threading.Event()
    threads = [
        threading.Thread(target=trial_thread, args=(n, e)) for n, e in (("a", first), ("b", second))
    ]
    for thread in threads:
        thread.start()
    first.wait(10), second.wait(10)
    with pytest.warns(RuntimeWarning, match="cannot tell which trial it belongs to") as warned:
        outsider = threading.Thread(target=lambda: [llmhpo.report(1, 0.5) for _ in range(3)])
        outsider.start()
        outsider.join()
    done.set()
    for thread in threads:
        thread.join()
    assert heard == [] and len(warned) == 1
