"""The contract every tuner in conf/tuner/ keeps, checked on each file found there (as Optuna
checks every sampler with `parametrize_sampler_with_seed`): a new tuner file is under test
the day it is added.

A study of batches of 2 whose results come back out of order, with failed trials, killed
in the middle of a batch (the asked and untold trial lost) and resumed, logs exactly the
rounds, statuses and configurations of the same study run without a break. That holds only
if the tuner hears rounds through `hold` and `tell` alone and rebuilds all of its state
from them: the loop replays the trial log through both on resume. The LLM tuners must also
send, after the resume, the very prompts an uninterrupted study sent (every call of theirs
is then answered by the replay cache).
"""

import json

import pytest

import llmhpo
from tests.helpers.config import CONF, REPO
from tests.helpers.runs import trial_lines

TUNERS = sorted(path.stem for path in (CONF / "tuner").glob("*.yaml"))
SPACE = llmhpo.SearchSpace.from_dict(
    {
        "x1": {"type": "float", "low": -5.0, "high": 5.0},
        "x2": {"type": "float", "low": -5.0, "high": 5.0},
        # every tuner's own terms for a logit-scale fraction (Optuna's, ConfigSpace's: its
        # log-odds) must give back the value it proposed, on replay as live
        "p": {"type": "float", "low": 0.01, "high": 0.99, "scale": "logit"},
    },
    default={"x1": 0.0, "x2": 0.0, "p": 0.5},  # for the default-first tuners
)
OPTIONS = {
    # The paper's LLM tuner answers twice at most a round: a retry (sampled at
    # retry_temperature, seeded) is still replayed. The tuners built on the same LLM calls
    # answer once, so that the default suite stays short.
    "llm": {"max_attempts": 2},
    "hybrid": {"max_attempts": 1},
    "fixed": {"config": {"x1": 1.0, "x2": -2.0, "p": 0.2}},  # the one configuration it evaluates
    "smac": {"crash_cost": 100.0},  # what a failed trial costs (an API objective has no worst)
    # the LLM's rounds 2 and 4 within BUDGET
    "centaur": {"llm_warmup": 2, "llm_ratio": 0.5, "max_attempts": 1},
    # LLAMBO's rounds 4 and 5 (a random fallback where no new candidate came), few calls
    "llambo": {
        "n_initial": 4,
        "max_attempts": 1,
        "n_templates": 1,
        "n_candidates": 2,
        "min_candidates": 1,
        "surrogate_samples": 1,
    },  # fmt: skip
}
FAILED_ROUNDS = {1, 4}
BUDGET = 6


def evaluate(config: dict) -> float:
    return (config["x1"] - 1.0) ** 2 + (config["x2"] + 2.0) ** 2 + (config["p"] - 0.2) ** 2


def drive(tuner: str, folder, stop_after: int | None = None, **options) -> None:
    """Run the study in batches of 2, telling each batch's results last round first; with
    `stop_after`, stop as a kill would once that many results are told."""
    options = {**OPTIONS.get(tuner, {}), **options}
    study = llmhpo.Study(
        SPACE, tuner, budget=BUDGET, seed=0, folder=folder, batch_size=2, **options
    )
    told = 0
    while batch := study.ask_batch():
        for trial in reversed(batch):
            if told == stop_after:
                study.finish()  # releases the folder; the trials not told are lost
                return
            if trial.number in FAILED_ROUNDS:
                study.tell(trial, failed="diverged")
            else:
                study.tell(trial, evaluate(trial.config))
            told += 1
    study.finish()


def logged(folder) -> list[tuple]:
    return [(line["round"], line["status"], line["config"]) for line in trial_lines(folder)]


@pytest.mark.parametrize("tuner", TUNERS)
def test_a_killed_study_resumes_as_if_never_stopped(tuner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the LLM tuners' replay cache, shared by the three runs
    check_the_contract(tuner, tmp_path)


def check_the_contract(tuner: str, tmp_path, **options) -> None:
    drive(tuner, tmp_path / "whole", **options)
    drive(tuner, tmp_path / "part", stop_after=3, **options)  # round 3 told, 2 not: 3 is lost
    drive(tuner, tmp_path / "part", **options)

    whole = logged(tmp_path / "whole")
    assert [r for r, _, _ in whole] == list(range(len(whole)))
    assert len(whole) == (1 if tuner == "fixed" else BUDGET)
    assert [s for r, s, _ in whole] == [
        "failed" if r in FAILED_ROUNDS else "ok" for r, _, _ in whole
    ]
    assert logged(tmp_path / "part") == whole
    assert all(0.01 <= config["p"] <= 0.99 for _, _, config in whole)
    for line in trial_lines(tmp_path / "part")[2:]:  # the rounds asked again after the kill
        if "attempts" in line["tuner"]:
            assert line["tuner"]["cached_calls"] == line["tuner"]["attempts"]


# A tuner of one's own, as "Writing a tuner" in docs/tuners.md has it: a module and a YAML file.
OWN_TUNER = REPO / "examples" / "own_tuner"


def test_a_tuner_of_ones_own_is_a_module_and_a_yaml_file_and_keeps_the_contract(
    tmp_path, monkeypatch
):
    monkeypatch.syspath_prepend(str(OWN_TUNER))
    check_the_contract("greedy", tmp_path, config_dir=OWN_TUNER / "conf")
    lines = trial_lines(tmp_path / "whole")
    assert [line["tuner"]["proposer"] for line in lines] == ["random"] * 2 + ["greedy"] * 4
    study = json.loads((tmp_path / "whole" / "study.json").read_text())
    assert study["config"]["tuner"]["_target_"] == "greedy_tuner.GreedyTuner"
