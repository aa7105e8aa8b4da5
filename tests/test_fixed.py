"""tuner=fixed: one run with given hyperparameters, through the real CLI."""

import json

import pytest

from llmhpo.objectives.toy import ToyObjective
from llmhpo.store import FromRunError, config_from_run
from llmhpo.store.trial_log import TrialRecord
from llmhpo.tuners.fixed import FixedTuner
from tests.helpers.runs import trial_lines

REFERENCE = {
    "optimizer": "sgd",
    "learning_rate": 0.01,
    "train_batch_size": 512,
    "weight_decay": 0.0001,
    "label_smoothing": 0.0,
}
DIGITS = ["dataset=digits", "trainer.max_epochs=1"]


def only_run(root):
    (log,) = root.glob("*/trials.jsonl")
    return (
        trial_lines(log.parent),
        json.loads((log.parent / "summary.json").read_text()),
        log.parent,
    )


@pytest.mark.slow
def test_reference_defaults_give_one_ok_trial(cli, tmp_path):
    result = cli("tuner=fixed", *DIGITS, "budget=7", timeout=300)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "budget=7 is ignored" in result.stdout
    (line,), summary, _ = only_run(tmp_path / "outputs")
    assert line["status"] == "ok" and line["config"] == REFERENCE
    metrics = line["metrics"]
    assert metrics["val_accuracy"] == pytest.approx(1 - metrics["val_error"])
    assert metrics["params"] == 2_274_880
    assert summary["test"]["test_accuracy"] == pytest.approx(1 - summary["test"]["test_error"])


@pytest.mark.slow
def test_overriding_two_keys_changes_exactly_those(cli, tmp_path):
    result = cli(
        "tuner=fixed",
        *DIGITS,
        "tuner.config.learning_rate=0.05",
        "tuner.config.optimizer=adam",
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    (line,), _, _ = only_run(tmp_path / "outputs")
    assert line["config"] == {**REFERENCE, "learning_rate": 0.05, "optimizer": "adam"}


@pytest.mark.slow
def test_out_of_space_value_gets_the_validation_message(cli, tmp_path):
    result = cli("tuner=fixed", *DIGITS, "tuner.config.learning_rate=0.5")
    assert result.returncode != 0
    assert "'learning_rate' is 0.5, above the maximum 0.1" in result.stdout
    ok = cli(
        "tuner=fixed",
        *DIGITS,
        "tuner.config.learning_rate=0.5",
        "search_space=unconstrained",
        timeout=300,
    )
    assert ok.returncode == 0, ok.stdout[-2000:]


@pytest.mark.slow
def test_from_run_reproduces_the_best_configuration_and_its_error(cli, tmp_path):
    study = cli("tuner=random", *DIGITS, "budget=2", timeout=300)
    assert study.returncode == 0, study.stdout[-2000:]
    (source,) = [p.parent for p in (tmp_path / "outputs").glob("*random*/summary.json")]
    best = json.loads((source / "summary.json").read_text())
    again = cli("tuner=fixed", *DIGITS, f"tuner.from_run={source}", timeout=300)
    assert again.returncode == 0, again.stdout[-2000:]
    (folder,) = [p.parent for p in (tmp_path / "outputs").glob("*fixed*/trials.jsonl")]
    line = json.loads((folder / "trials.jsonl").read_text())
    assert line["config"] == best["best_config"]
    assert line["value"] == best["best_value"]  # same seed, same config, on the CPU: same error
    assert line["tuner"]["source"] == str(source)


def test_from_round_and_bad_sources(tmp_path):
    with pytest.raises(FromRunError, match="no summary.json there"):
        config_from_run(tmp_path, None)
    with pytest.raises(FromRunError, match="holds no trials"):
        config_from_run(tmp_path, 0)
    (tmp_path / "summary.json").write_text('{"best_config": {"x1": 1')  # cut off mid-write
    with pytest.raises(FromRunError, match="summary.json cannot be read .JSONDecodeError"):
        config_from_run(tmp_path, None)


def test_toy_objective_at_a_known_optimum(cli, tmp_path):
    result = cli(
        "objective=toy",
        "objective.function=himmelblau",
        "tuner=fixed",
        "tuner.config.x1=3",
        "tuner.config.x2=2",
    )
    assert result.returncode == 0, result.stdout[-2000:]
    (line,), summary, _ = only_run(tmp_path / "outputs")
    assert line["value"] == 0.0 and line["metrics"]["regret"] == 0.0
    assert summary["best_value"] == 0.0


def test_reference_defaults_are_dropped_for_a_space_without_them():
    space = ToyObjective("branin").search_space
    tuner = FixedTuner(space, 0, {**REFERENCE, "x1": 1.0, "x2": 2.0})
    assert tuner.ask().config == {"x1": 1.0, "x2": 2.0}
    with pytest.raises(ValueError, match="unknown key 'momentum'"):
        FixedTuner(space, 0, {"x1": 1.0, "x2": 2.0, "momentum": 0.9})


def test_from_round_never_writes_the_source_study(tmp_path):
    """The source may be a running study (its last line torn mid-write) or read-only."""
    lines = [
        TrialRecord(0, "ok", {"x1": 1.0, "x2": 2.0}, value=5.0).to_json(),
        TrialRecord(1, "ok", {"x1": 3.0, "x2": 2.0}, value=0.0).to_json(),
        '{"round": 2, "stat',  # a trial being written right now
    ]
    log = tmp_path / "trials.jsonl"
    log.write_text("\n".join(lines))
    before = (log.read_bytes(), log.stat().st_mtime_ns)
    assert config_from_run(tmp_path, 1) == {"x1": 3.0, "x2": 2.0}
    assert (log.read_bytes(), log.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trials.jsonl"]
