"""Pruners: Optuna's, over any tuner, judged by the curves objectives report.

The objective here is a toy learning curve (a configuration's final value approached as
1/step), reported through `llmhpo.report` from the caller's own function: fast enough to run
every pruner with every tuner, and to kill a study mid-way.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import llmhpo
from llmhpo.objectives.train import training_task
from llmhpo.pruning import PRUNER_KEYS, PRUNERS
from llmhpo.store.trial_log import TrialRecord
from llmhpo.study import TrialOrderError
from llmhpo.tuners.llm.prompts import PromptBuilder, PromptSettings
from tests.helpers.objectives import learning_curve
from tests.helpers.runs import trial_lines

SPACE = {
    "x1": {"type": "float", "low": -5.0, "high": 5.0},
    "x2": {"type": "float", "low": -5.0, "high": 5.0},
}
STEPS = 6
OPTIONS = {"smac": {"crash_cost": 100.0}, "fixed": {"config": {"x1": 0.0, "x2": 0.0}}}


def final(config: dict) -> float:
    return (config["x1"] - 1.0) ** 2 + (config["x2"] + 2.0) ** 2


def learn(config: dict) -> float:
    """A learning curve that falls towards the configuration's final value."""
    return learning_curve(final(config), STEPS)


@pytest.mark.parametrize("pruner", [p for p in PRUNERS if p != "none"])
@pytest.mark.parametrize(
    "tuner",  # the LLM tuners take 20-50 s each here: `make test-all` runs them
    ["random", "bo", "smac", *(pytest.param(t, marks=pytest.mark.slow) for t in ("llm", "hybrid"))],
)
def test_every_pruner_stops_trials_of_every_tuner(tuner, pruner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the LLM tuners' replay cache
    study = llmhpo.Study(
        SPACE, tuner, budget=10, seed=0, folder=tmp_path / "s", pruner=pruner,
        **OPTIONS.get(tuner, {}),
    )  # fmt: skip
    summary = study.optimize(learn)
    lines = trial_lines(tmp_path / "s")
    assert summary["status_counts"]["pruned"] >= 1, [line["status"] for line in lines]
    for line in lines:
        steps = [step for step, _ in line["curve"]]
        assert steps == list(range(1, len(steps) + 1))
        assert line["value"] == line["curve"][-1][1]  # a pruned trial's too: where it stopped
        if line["status"] == "pruned":
            assert len(steps) < STEPS and line["error"] == f"pruned at step {steps[-1]}"
        else:
            assert line["status"] == "ok" and len(steps) == STEPS
    best = min(line["value"] for line in lines if line["status"] == "ok")
    assert summary["best_value"] == best  # a pruned trial is never the best


def test_without_a_pruner_every_trial_runs_to_its_end_and_keeps_its_curve(tmp_path):
    study = llmhpo.Study(SPACE, "random", budget=4, folder=tmp_path)
    assert study.optimize(learn)["status_counts"]["pruned"] == 0
    assert [len(line["curve"]) for line in trial_lines(tmp_path)] == [STEPS] * 4
    assert "pruner" not in json.loads((tmp_path / "study.json").read_text())["config"]


def test_ask_and_tell_report_steps_and_tell_a_pruned_trial(tmp_path):
    study = llmhpo.Study(SPACE, "random", budget=8, folder=tmp_path, direction="maximize",
                         pruner={"name": "asha", "reduction_factor": 2})  # fmt: skip
    stopped = 0
    while (trial := study.ask()) is not None:
        for step in range(1, STEPS + 1):
            trial.report(step, -learn_at(trial.config, step))
            if trial.should_prune():
                study.tell(trial, pruned=True)
                stopped += 1
                break
        else:
            study.tell(trial, -final(trial.config))
    summary = study.finish()
    assert stopped == summary["status_counts"]["pruned"] >= 1
    pruned = [line for line in trial_lines(tmp_path) if line["status"] == "pruned"]
    # the curve holds what the tuners minimise; the metric as reported is beside it
    assert all(line["metrics"]["metric"] == -line["curve"][-1][1] for line in pruned)


def learn_at(config: dict, step: int) -> float:
    return final(config) + 10.0 / step


def test_a_report_out_of_order_or_after_the_tell_is_refused(tmp_path):
    study = llmhpo.Study(SPACE, "random", budget=3, folder=tmp_path, pruner="median")
    trial = study.ask()
    trial.report(1, 5.0)
    with pytest.raises(TrialOrderError, match="step 1 reported after step 1"):
        trial.report(1, 4.0)
    with pytest.raises(llmhpo.api.ConfigError, match="as a number"):
        trial.report(2, "low")
    study.tell(trial, 3.0)
    with pytest.raises(TrialOrderError, match="not out for evaluation"):
        trial.report(2, 1.0)
    with pytest.raises(TrialOrderError, match="without a reported step"):
        study.tell(study.ask(), pruned=True)
    study.finish()


def test_an_unknown_pruner_or_key_is_refused_before_any_work(tmp_path):
    with pytest.raises(llmhpo.api.ConfigError, match="pruner='sha' is not known"):
        llmhpo.Study(SPACE, "random", folder=tmp_path / "a", pruner="sha")
    with pytest.raises(llmhpo.api.ConfigError, match=r"has no key\(s\) \['eta'\]"):
        llmhpo.Study(SPACE, "random", folder=tmp_path / "b", pruner={"name": "asha", "eta": 3})
    with pytest.raises(llmhpo.api.ConfigError, match="names no pruner: add its 'name'"):
        llmhpo.Study(SPACE, "random", folder=tmp_path / "c", pruner={"reduction_factor": 2})
    assert not any((tmp_path / name).exists() for name in "abc")


@pytest.mark.parametrize(
    ("pruner", "key"), [(p, k) for p, keys in PRUNER_KEYS.items() for k in sorted(keys)]
)
def test_every_key_of_every_pruner_refuses_a_value_that_would_fail_the_trials(
    pruner, key, tmp_path
):
    """Optuna's HyperbandPruner took max_resource=0 or reduction_factor=1 and failed every
    trial (a math domain error, a division by zero); each key is now checked before any work."""
    least, auto = PRUNER_KEYS[pruner][key]
    for bad in (least - 1, 2.5, "many", True, None, *(() if auto else ("auto",))):
        with pytest.raises(llmhpo.api.ConfigError, match=rf"pruner\.{key} must be"):
            llmhpo.Study(SPACE, "random", folder=tmp_path / "s", pruner={"name": pruner, key: bad})
        assert not (tmp_path / "s").exists()
    good = {"name": pruner, key: "auto" if auto else least}
    if pruner == "hyperband" and key == "max_resource":
        good["min_resource"] = 1
    llmhpo.Study(SPACE, "random", budget=4, folder=tmp_path / "s", pruner=good).optimize(learn)


def test_hyperband_refuses_a_whole_run_shorter_than_its_first_rung(tmp_path):
    with pytest.raises(
        llmhpo.api.ConfigError, match=r"max_resource \(2\) is below pruner.min_resource \(3\)"
    ):
        llmhpo.Study(SPACE, "random", folder=tmp_path / "s",
                     pruner={"name": "hyperband", "min_resource": 3, "max_resource": 2})  # fmt: skip


KILLABLE = textwrap.dedent(
    """
    import sys, time
    import llmhpo

    def learn(config):
        for step in range(1, 7):
            time.sleep(0.02)
            llmhpo.report(step, (config["x1"] - 1) ** 2 + (config["x2"] + 2) ** 2 + 10 / step)
        return (config["x1"] - 1) ** 2 + (config["x2"] + 2) ** 2 + 10 / 6

    space = {"x1": {"type": "float", "low": -5.0, "high": 5.0},
             "x2": {"type": "float", "low": -5.0, "high": 5.0}}
    study = llmhpo.Study(space, "bo", budget=16, seed=0, folder=sys.argv[1], pruner=sys.argv[2])
    study.optimize(learn)
    """
)


@pytest.mark.parametrize("pruner", ["asha", "hyperband"])
def test_a_study_killed_mid_trial_resumes_with_the_same_pruning_decisions(tmp_path, pruner):
    script = tmp_path / "study.py"
    script.write_text(KILLABLE)
    whole, part = tmp_path / "whole", tmp_path / "part"
    subprocess.run([sys.executable, str(script), str(whole), pruner], check=True)
    process = subprocess.Popen([sys.executable, str(script), str(part), pruner])
    deadline = time.monotonic() + 120
    while not (part / "trials.jsonl").exists() or len(trial_lines(part)) < 6:
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)  # mid-trial: the trial in flight is lost
    process.wait()
    assert len(trial_lines(part)) < 16
    subprocess.run([sys.executable, str(script), str(part), pruner], check=True)
    fields = ("round", "status", "config", "curve", "value")
    plain = lambda folder: [{k: line[k] for k in fields} for line in trial_lines(folder)]  # noqa: E731
    assert plain(part) == plain(whole)
    assert {line["status"] for line in trial_lines(whole)} == {"ok", "pruned"}


def test_the_prompt_says_where_a_trial_was_stopped_and_shows_curves_when_asked():
    from llmhpo.space import SearchSpace

    space = SearchSpace.from_dict(SPACE)
    task = training_task({"name": "resnet9"}, {"name": "digits"})
    pruned = TrialRecord(
        round=0, status="pruned", config={"x1": 0.0, "x2": 0.0}, value=0.5,
        metrics={"val_error": 0.5}, curve=[[1, 0.9], [2, 0.5]], error="pruned at step 2",
    )  # fmt: skip
    finished = TrialRecord(
        round=1, status="ok", config={"x1": 1.0, "x2": 0.0}, value=0.1,
        metrics={"val_error": 0.1, "val_loss": 0.3},
        curve=[[step, 1.0 / step] for step in range(1, 11)],
    )  # fmt: skip
    plain = PromptBuilder(PromptSettings(), space, task, budget=5)
    text = plain.messages([pruned, finished])[-1]["content"]
    assert (
        "Config 1: " in text
        and "Stopped early after epoch 2 as unpromising (Error Rate: 5.0000e-01)" in text
    )
    assert "error message" not in text and "Curve" not in text  # pruned is no error; no curves
    curves = PromptBuilder(PromptSettings(curves=True), space, task, budget=5)
    text = curves.messages([pruned, finished])[-1]["content"]
    assert "Curve: 1: 9.0000e-01, 2: 5.0000e-01" in text
    # ten points shown as five, the first and the last among them
    assert (
        "Curve: 1: 1.0000e+00, 3: 3.3333e-01, 5: 2.0000e-01, 8: 1.2500e-01, 10: 1.0000e-01" in text
    )
