"""A study folder reopened with one bound of the search space changed is refused, naming the
key, at every door: the trials logged under the old range would otherwise be told to a tuner
of the new one, and a resumed study would not be the one begun."""

import pytest

import llmhpo
from llmhpo.run_folder import RunFolderMismatchError
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
