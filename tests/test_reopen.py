"""A study folder reopened at every door: with one bound of the search space changed it is
refused, naming the key (the trials logged under the old range would otherwise be told to a
tuner of the new one); with a larger budget the study goes on from its log; under another
name it is the same study, renamed."""

import json

import pytest

import llmhpo
from llmhpo.objectives.toy import get_toy_function
from llmhpo.store.folder import RunFolderMismatchError
from tests.test_hydra_sweeper import sweep

SPACE_FILE = """name: mine
parameters:
  x1: {type: float, low: -5.0, high: 10.0}
  x2: {type: float, low: 0.0, high: 15.0}
"""


def test_the_cli_refuses_a_folder_reopened_with_a_changed_bound(cli_split, tmp_path):
    (tmp_path / "my_conf" / "search_space").mkdir(parents=True)
    (tmp_path / "my_conf" / "search_space" / "mine.yaml").write_text(SPACE_FILE)
    args = ["hydra.searchpath=[file://my_conf]", "objective=toy", "search_space=mine",
            "tuner=random", "budget=2", "hydra.run.dir=pinned"]  # fmt: skip
    assert cli_split(*args).returncode == 0
    refused = cli_split(*args, "search_space.parameters.x2.high=14.0")
    assert refused.returncode == 2, refused.stderr
    assert "differs in: search_space.parameters.x2.high" in refused.stderr
    assert len((tmp_path / "pinned" / "trials.jsonl").read_text().splitlines()) == 2


def test_the_api_refuses_a_folder_reopened_with_a_changed_bound(tmp_path):
    space = {
        "x": {"type": "float", "low": 0.0, "high": 1.0},
        "n": {"type": "int", "low": 1, "high": 4},
    }
    llmhpo.Study(space, budget=2, folder=tmp_path / "s").optimize(lambda c: c["x"])
    for key, changed in [("x.high", 2.0), ("x.low", -1.0), ("n.high", 5)]:
        name, side = key.split(".")
        other = {**space, name: {**space[name], side: changed}}
        with pytest.raises(
            RunFolderMismatchError, match=rf"differs in: search_space\.parameters\.{key}\)"
        ):
            llmhpo.Study(other, budget=2, folder=tmp_path / "s")
    summary = llmhpo.Study(space, budget=2, folder=tmp_path / "s").finish()  # the study is intact
    assert summary["trials"] == 2


def test_the_sweeper_refuses_a_sweep_reopened_with_a_changed_bound(tmp_path):
    sweep(tmp_path, "x=interval(-1, 1)", "hydra.sweeper.budget=2")
    folder, refused = sweep(tmp_path, "x=interval(-1, 2)", "hydra.sweeper.budget=2", ok=False)
    assert refused.returncode == 2
    assert "differs in: search_space.parameters.x.high" in refused.stdout
    assert len((folder / "trials.jsonl").read_text().splitlines()) == 2


# --- a larger budget continues the study ------------------------------------------------------

TOY = {
    "x1": {"type": "float", "low": -5.0, "high": 10.0},
    "x2": {"type": "float", "low": 0.0, "high": 15.0},
}
OPTIONS = {"smac": {"crash_cost": 1000.0}}


def branin(config):
    return float(get_toy_function("branin")(config["x1"], config["x2"]))


def lines_of(folder):
    return (folder / "trials.jsonl").read_text().splitlines()


@pytest.mark.parametrize("tuner", ["random", "bo", "smac"])
def test_a_larger_budget_continues_the_study_as_if_it_had_been_asked_for_at_once(tuner, tmp_path):
    whole = llmhpo.Study(TOY, tuner, budget=6, folder=tmp_path / "whole", **OPTIONS.get(tuner, {}))
    whole.optimize(branin)
    first = llmhpo.Study(TOY, tuner, budget=3, folder=tmp_path / "grown", **OPTIONS.get(tuner, {}))
    first.optimize(branin)
    before = lines_of(tmp_path / "grown")
    grown = llmhpo.Study(TOY, tuner, budget=6, folder=tmp_path / "grown", **OPTIONS.get(tuner, {}))
    summary = grown.optimize(branin)
    assert lines_of(tmp_path / "grown")[:3] == before  # the earlier rounds untouched
    configs = [t.config for t in grown.trials]
    assert configs == [t.config for t in whole.trials]  # the tuner was told every earlier trial
    assert summary["trials"] == 6 and summary["finished"] and summary["budget"] == 6


def test_a_smaller_budget_reports_the_study_finished_and_keeps_its_trials(tmp_path):
    llmhpo.Study(TOY, "random", budget=5, folder=tmp_path).optimize(branin)
    before = lines_of(tmp_path)
    study = llmhpo.Study(TOY, "random", budget=2, folder=tmp_path)
    assert study.ask() is None
    summary = study.finish()
    assert summary["finished"] and summary["trials"] == 2 and lines_of(tmp_path) == before
    assert json.loads((tmp_path / "study.json").read_text())["config"]["budget"] == 5
    assert llmhpo.Study(TOY, "random", budget=5, folder=tmp_path).finish()["trials"] == 5


def drive_batches(folder, budget, stop_after=None):
    """A study in batches of 2 told last round first; with `stop_after`, killed after that many
    results (the trials not told are lost)."""
    study = llmhpo.Study(TOY, "bo", budget=budget, folder=folder, batch_size=2, n_startup_trials=2)
    told = 0
    while batch := study.ask_batch():
        for trial in reversed(batch):
            if told == stop_after:
                study.finish()
                return
            study.tell(trial, branin(trial.config))
            told += 1
    study.finish()


def test_a_batch_study_extended_and_killed_resumes_as_the_extension_ran(tmp_path):
    """Budget 3 in batches of 2 ends with a batch of one; given 7, the study goes on with a new
    batch, and a resume after a kill replays the batches as they ran (the old budget closed one)."""
    for name in ("straight", "killed"):
        drive_batches(tmp_path / name, 3)
    drive_batches(tmp_path / "straight", 7)
    drive_batches(tmp_path / "killed", 7, stop_after=1)  # round 4 told, round 3 lost
    drive_batches(tmp_path / "killed", 7)
    assert json.loads((tmp_path / "killed" / "study.json").read_text())["ended_at"] == [3]
    straight = [json.loads(line) for line in lines_of(tmp_path / "straight")]
    killed = [json.loads(line) for line in lines_of(tmp_path / "killed")]
    assert [line["round"] for line in killed] == list(range(7))
    assert [line["config"] for line in killed] == [line["config"] for line in straight]


def test_the_cli_goes_on_in_the_same_folder_with_a_larger_budget(cli_split, tmp_path):
    assert cli_split("objective=toy", "tuner=bo", "budget=3").returncode == 0
    (folder,) = (tmp_path / "outputs").iterdir()
    before = lines_of(folder)
    grown = cli_split("objective=toy", "tuner=bo", "budget=5")
    assert grown.returncode == 0, grown.stderr
    assert [p.name for p in (tmp_path / "outputs").iterdir()] == [folder.name]
    assert (
        "Resuming" in grown.stdout and lines_of(folder)[:3] == before and len(lines_of(folder)) == 5
    )
    again = cli_split("objective=toy", "tuner=bo", "budget=4")
    assert "already finished" in again.stdout and len(lines_of(folder)) == 5


def test_the_sweeper_goes_on_with_a_larger_budget(tmp_path):
    sweep(tmp_path, "x=interval(-1, 1)", "hydra.sweeper.budget=2")
    folder, result = sweep(tmp_path, "x=interval(-1, 1)", "hydra.sweeper.budget=3")
    assert "Resuming" in result.stdout and len(lines_of(folder)) == 3


def test_the_llms_prompt_after_an_extension_is_the_one_a_study_of_that_budget_sends(tmp_path):
    """The paper's prompt announces the budget: the rounds asked after an extension announce
    the new one, with the whole history, exactly as a study begun with that budget does."""
    from tests.helpers.servers import FaultyLLMServer

    answers = ['{"x1": 1.5, "x2": 2.5}', '{"x1": -2.0, "x2": 11.0}', '{"x1": 3.0, "x2": 4.0}']

    def study(folder, budget, server):
        llm = {"provider": "litellm", "model": "openai/fake", "api_base": server.url,
               "api_key_env": None, "cache": False, "response_format": "none"}  # fmt: skip
        llmhpo.Study(TOY, "llm", llm=llm, budget=budget, folder=folder).optimize(branin)

    with FaultyLLMServer([], list(answers)) as server:
        study(tmp_path / "whole", 3, server)
    whole = server.bodies
    with FaultyLLMServer([], list(answers)) as server:
        study(tmp_path / "grown", 2, server)
        study(tmp_path / "grown", 3, server)
    grown = server.bodies
    assert len(whole) == len(grown) == 3
    assert "budget to try 2 configurations" in grown[0]["messages"][-1]["content"]
    assert grown[2]["messages"] == whole[2]["messages"]
    assert "budget to try 3 configurations" in grown[2]["messages"][-1]["content"]


# --- a name labels the study ------------------------------------------------------------------


def train_the_model(config):
    return branin(config)


def test_a_study_is_named_after_its_function_and_renamed_without_becoming_another(tmp_path):
    study = llmhpo.Study(TOY, "random", budget=2, folder=tmp_path / "s")
    assert study.optimize(train_the_model)["objective"] == "train_the_model"
    recorded = json.loads((tmp_path / "s" / "study.json").read_text())["config"]
    assert recorded["objective"]["name"] == "train_the_model"
    renamed = llmhpo.Study(TOY, "random", budget=2, folder=tmp_path / "s", name="branin")
    assert renamed.finish()["objective"] == "branin"
    assert (
        json.loads((tmp_path / "s" / "study.json").read_text())["config"]["objective"]["name"]
        == "branin"
    )
    by_hand = llmhpo.Study(TOY, "random", budget=1, folder=tmp_path / "by-hand")
    trial = by_hand.ask()
    by_hand.tell(trial, 1.0)
    assert by_hand.finish()["objective"] == "by-hand"  # no function: the folder's name


def test_aggregation_warns_when_studies_of_one_name_search_different_spaces(tmp_path):
    from llmhpo.results.load import load_runs

    other = {**TOY, "x2": {"type": "float", "low": 0.0, "high": 5.0}}
    for folder, space in (("a", TOY), ("b", TOY), ("c", other)):
        llmhpo.Study(space, "random", budget=2, folder=tmp_path / folder, name="mine").optimize(
            branin
        )
    problems = load_runs([str(tmp_path)]).problems
    (warning,) = [p for p in problems if "different search spaces" in p]
    assert "'mine'" in warning and str(tmp_path / "c") in warning
