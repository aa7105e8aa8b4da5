"""tuner=cmaes: CMA-ES through Optuna's CmaEsSampler, whose state lives in the trials it
samples, so a resumed study asks it again for each of its replayed rounds."""

import llmhpo
from tests.helpers.runs import trial_lines

SPACE = {
    "x1": {"type": "float", "low": -5.0, "high": 5.0},
    "x2": {"type": "float", "low": -5.0, "high": 5.0},
    "act": {"type": "categorical", "choices": ["relu", "tanh"]},
}
BUDGET = 24  # four generations of 6 (CMA-ES's population in two dimensions)


def sphere(config: dict) -> float:
    return (config["x1"] - 1.0) ** 2 + (config["x2"] + 2.0) ** 2 + (config["act"] == "tanh")


def drive(folder, stop_after: int | None = None) -> llmhpo.Study:
    study = llmhpo.Study(SPACE, "cmaes", budget=BUDGET, seed=0, folder=folder, batch_size=2)
    told = 0
    while batch := study.ask_batch():
        for trial in reversed(batch):
            if told == stop_after:
                study.finish()
                return study
            if trial.number in (3, 10):
                study.tell(trial, failed="diverged")
            else:
                study.tell(trial, sphere(trial.config))
            told += 1
    study.finish()
    return study


def test_a_killed_cmaes_study_resumes_through_several_generations_as_if_never_stopped(tmp_path):
    whole = drive(tmp_path / "whole")
    drive(tmp_path / "part", stop_after=13)  # in the middle of the third generation
    drive(tmp_path / "part")
    logged = [
        (line["round"], line["status"], line["config"]) for line in trial_lines(tmp_path / "whole")
    ]
    assert [
        (line["round"], line["status"], line["config"]) for line in trial_lines(tmp_path / "part")
    ] == logged
    whole._loop.tuner.ask()  # the tuner follows the study's rounds when it is asked
    optuna_trials = whole._loop.tuner.study.trials
    generations = {t.system_attrs.get("cma:generation") for t in optuna_trials} - {None}
    assert len(generations) >= 3  # CMA-ES proposed, over several generations
    best = min(line["value"] for line in trial_lines(tmp_path / "whole") if line["status"] == "ok")
    first = min(
        line["value"] for line in trial_lines(tmp_path / "whole")[:6] if line["status"] == "ok"
    )
    assert best < first
