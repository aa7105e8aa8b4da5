import json
import os
import stat
import threading

import pytest

from llmhpo.objectives.toy import ToyObjective
from llmhpo.store.files import write_json_atomic
from llmhpo.store.trial_log import TrialLog, TrialLogError, TrialRecord
from llmhpo.study import StudyLoop, TrialOrderError
from llmhpo.tuners.bo import OptunaTuner
from llmhpo.tuners.random import RandomTuner
from tests.helpers.objectives import FlakyObjective
from tests.helpers.runs import trial_lines


def make_study(folder, budget=6, objective=None, tuner_cls=RandomTuner, seed=0, **tuner_kwargs):
    objective = objective or ToyObjective("branin")
    tuner = tuner_cls(objective.search_space, seed=seed, **tuner_kwargs)
    return StudyLoop(folder, objective.search_space, tuner, objective, budget)


def test_study_writes_log_and_summary(tmp_path):
    summary = make_study(tmp_path, budget=5).run()
    lines = trial_lines(tmp_path)
    assert [line["round"] for line in lines] == [0, 1, 2, 3, 4]
    assert all(line["status"] == "ok" for line in lines)
    best = min(lines, key=lambda line: line["value"])
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk == summary
    assert summary["best_value"] == best["value"]
    assert summary["best_config"] == best["config"]
    assert summary["status_counts"] == {"ok": 5, "failed": 0, "invalid": 0, "pruned": 0}
    assert summary["finished"] is True
    assert summary["seconds"]["objective"] == pytest.approx(sum(x["seconds"] for x in lines))
    assert summary["seconds"]["tuner"] == pytest.approx(sum(x["ask_seconds"] for x in lines))
    assert all(x["seconds"] > 0 and x["ask_seconds"] > 0 for x in lines)  # each was measured
    assert lines[0]["metrics"]["regret"] == pytest.approx(lines[0]["value"] - 0.3978873577)


def test_failing_trial_is_recorded_and_the_study_goes_on(tmp_path):
    objective = FlakyObjective(fail_on={1}, nan_on={3})
    summary = make_study(tmp_path, budget=5, objective=objective).run()
    lines = trial_lines(tmp_path)
    assert [line["status"] for line in lines] == ["ok", "failed", "ok", "failed", "ok"]
    assert lines[1]["error"] == "RuntimeError: simulated crash in the trial"
    assert lines[1]["value"] is None and lines[1]["config"] is not None
    assert "non-finite value" in lines[3]["error"]
    assert summary["status_counts"] == {"ok": 3, "failed": 2, "invalid": 0, "pruned": 0}


def test_failed_trials_are_told_to_bo_as_failures(tmp_path):
    objective = FlakyObjective(fail_on={0, 2})
    study = make_study(tmp_path, budget=4, objective=objective, tuner_cls=OptunaTuner)
    study.run()
    study.tuner.ask()  # the tuner reads the study's rounds when it is asked
    states = [trial.state.name for trial in study.tuner.study.trials[:4]]
    assert states == ["FAIL", "COMPLETE", "FAIL", "COMPLETE"]


def test_finished_study_is_not_rerun(tmp_path):
    make_study(tmp_path, budget=3).run()
    objective = FlakyObjective()
    summary = make_study(tmp_path, budget=3, objective=objective).run()
    assert objective.calls == 0
    assert summary["trials"] == 3


@pytest.mark.parametrize(
    "tuner_cls,kwargs",
    [(RandomTuner, {}), (OptunaTuner, {"sampler": "tpe"}), (OptunaTuner, {"sampler": "gp"})],
)
def test_resumed_study_matches_an_uninterrupted_one(tmp_path, tuner_cls, kwargs):
    whole = make_study(tmp_path / "whole", budget=7, tuner_cls=tuner_cls, seed=3, **kwargs)
    whole.run()
    part = make_study(tmp_path / "part", budget=4, tuner_cls=tuner_cls, seed=3, **kwargs)
    part.run()
    (tmp_path / "part" / "summary.json").unlink()
    rest = make_study(tmp_path / "part", budget=7, tuner_cls=tuner_cls, seed=3, **kwargs)
    rest.run()
    configs = lambda folder: [line["config"] for line in trial_lines(folder)]  # noqa: E731
    assert configs(tmp_path / "part") == configs(tmp_path / "whole")


@pytest.mark.parametrize("tuner_cls,kwargs", [(RandomTuner, {}), (OptunaTuner, {"sampler": "gp"})])
def test_same_seed_same_proposals_other_seed_others(tmp_path, tuner_cls, kwargs):
    runs = {}
    for name, seed in [("a", 1), ("b", 1), ("c", 2)]:
        make_study(tmp_path / name, budget=5, tuner_cls=tuner_cls, seed=seed, **kwargs).run()
        runs[name] = [line["config"] for line in trial_lines(tmp_path / name)]
    assert runs["a"] == runs["b"]
    assert runs["a"] != runs["c"]


def test_bo_leaves_random_sampling_after_startup(tmp_path):
    study = make_study(tmp_path, budget=8, tuner_cls=OptunaTuner, n_startup_trials=3, seed=0)
    study.run()
    random_twin = make_study(tmp_path / "r", budget=8, tuner_cls=OptunaTuner, n_startup_trials=8)
    random_twin.run()
    first = [line["config"] for line in trial_lines(tmp_path)]
    startup_only = [line["config"] for line in trial_lines(tmp_path / "r")]
    assert first[:3] == startup_only[:3]
    assert first[3:] != startup_only[3:]


def test_torn_last_line_is_dropped_with_a_warning_and_repaired(tmp_path, caplog):
    make_study(tmp_path, budget=3).run()
    path = tmp_path / "trials.jsonl"
    intact = path.read_text()
    path.write_text(intact + '{"round": 3, "status": "o')
    with caplog.at_level("WARNING"):
        records = TrialLog(path).read()
    assert len(records) == 3
    assert "dropping torn last line 4" in caplog.text
    assert path.read_text() == intact


def test_resume_after_torn_line_finishes_cleanly(tmp_path):
    make_study(tmp_path, budget=3).run()
    path = tmp_path / "trials.jsonl"
    path.write_text(path.read_text() + '{"round": 3, "sta')
    make_study(tmp_path, budget=5).run()
    assert [line["round"] for line in trial_lines(tmp_path)] == [0, 1, 2, 3, 4]


def test_complete_last_line_without_newline_is_kept(tmp_path):
    make_study(tmp_path, budget=3).run()
    path = tmp_path / "trials.jsonl"
    path.write_text(path.read_text().rstrip("\n"))
    assert len(TrialLog(path).read()) == 3
    assert path.read_text().endswith("\n")


def test_damage_in_the_middle_is_an_error_naming_the_line(tmp_path):
    make_study(tmp_path, budget=3).run()
    path = tmp_path / "trials.jsonl"
    lines = path.read_text().splitlines()
    lines[1] = "garbage"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TrialLogError, match="line 2, is not a trial record"):
        TrialLog(path).read()


def test_rounds_out_of_order_are_an_error(tmp_path):
    log = TrialLog(tmp_path / "trials.jsonl")
    log.append(TrialRecord(round=0, status="ok", config={"x1": 0, "x2": 0}, value=1.0))
    log.append(TrialRecord(round=2, status="ok", config={"x1": 0, "x2": 0}, value=1.0))
    with pytest.raises(TrialLogError, match="expected round 1, found round 2"):
        log.read()


def test_budget_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="budget must be at least 1"):
        make_study(tmp_path, budget=0)


class OutOfRangeTuner(RandomTuner):
    """Proposes x1 outside the domain every other round, as a careless LLM might."""

    def ask(self):
        proposal = super().ask()
        if self.round % 2:
            proposal.config["x1"] = 99.0
        return proposal


def test_invalid_proposal_is_recorded_with_the_message_and_not_evaluated(tmp_path):
    objective = FlakyObjective()
    summary = make_study(tmp_path, budget=4, objective=objective, tuner_cls=OutOfRangeTuner).run()
    lines = trial_lines(tmp_path)
    assert [line["status"] for line in lines] == ["ok", "invalid", "ok", "invalid"]
    assert lines[1]["config"] is None and lines[1]["proposed"]["x1"] == 99.0
    assert "'x1' is 99, above the maximum 10" in lines[1]["error"]
    assert objective.calls == 2
    assert summary["status_counts"] == {"ok": 2, "failed": 0, "invalid": 2, "pruned": 0}


def test_json_files_are_replaced_atomically_durably_and_without_a_shared_temporary(
    tmp_path, monkeypatch
):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(
        os, "fsync", lambda fd: (synced.append(stat.S_ISDIR(os.fstat(fd).st_mode)), real_fsync(fd))
    )
    write_json_atomic(tmp_path / "summary.json", {"a": 1})
    assert synced == [False, True]  # the file, then its folder (so the rename is durable)
    assert oct((tmp_path / "summary.json").stat().st_mode & 0o777) == oct(0o644)

    errors = []

    def writer(n):
        try:
            for i in range(30):
                write_json_atomic(tmp_path / "shared.json", {"writer": n, "i": i})
        except OSError as error:  # a shared temporary name: one rename finds it gone
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert json.loads((tmp_path / "shared.json").read_text())["i"] == 29
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.json", "summary.json"]


def test_a_damaged_study_file_stops_the_run_naming_the_file(cli_split, tmp_path):
    assert cli_split("objective=toy", "tuner=random", "budget=2").returncode == 0
    (study_file,) = tmp_path.glob("outputs/*/study.json")
    study_file.write_text("")  # emptied by a crash or a full disk
    result = cli_split("objective=toy", "tuner=random", "budget=2")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{study_file} cannot be read (JSONDecodeError" in result.stderr
    assert "delete study.json and run again" in result.stderr


def drive_in_batches(study, stop_after=None, reverse=False):
    """Evaluate `study` a batch at a time, as parallel workers would; stop (a kill) after
    `stop_after` results are told, and tell each batch back to front when `reverse`."""
    told = 0
    while batch := study.ask_batch():
        for record in reversed(batch) if reverse else batch:
            if told == stop_after:
                return
            study.tell(record, study.objective.evaluate(record.config).value)
            told += 1
    study.finish()


def batch_study(folder, tuner_cls, budget=9, seed=3, **kwargs):
    objective = ToyObjective("branin")
    space = objective.search_space
    tuner = tuner_cls(space, seed=seed, task=objective.task, folder=folder, **kwargs)
    return StudyLoop(folder, space, tuner, objective, budget, batch_size=3)


def test_a_batch_is_proposed_before_its_results_and_logged_in_round_order(tmp_path):
    study = batch_study(tmp_path, OptunaTuner, n_startup_trials=2)
    first = study.ask_batch()
    assert [record.round for record in first] == [0, 1, 2]
    with pytest.raises(TrialOrderError, match="trial 0 was asked and not told yet"):
        study.ask_batch()
    study.tell(first[2], 1.0)
    study.tell(first[1], 2.0)
    assert not (tmp_path / "trials.jsonl").exists() or trial_lines(tmp_path) == []
    assert [len(study.tuner.history), len(study.tuner.pending)] == [0, 3]
    study.tell(first[0], 3.0)
    assert [line["value"] for line in trial_lines(tmp_path)] == [3.0, 2.0, 1.0]
    assert [record.round for record in study.tuner.history] == [0, 1, 2]
    assert [record.round for record in study.ask_batch()] == [3, 4, 5]


def test_an_invalid_round_in_a_batch_waits_for_the_rounds_before_it(tmp_path):
    objective = FlakyObjective()
    tuner = OutOfRangeTuner(objective.search_space, seed=0)
    study = StudyLoop(tmp_path, objective.search_space, tuner, objective, 6, batch_size=2)
    drive_in_batches(study, reverse=True)
    lines = trial_lines(tmp_path)
    assert [line["round"] for line in lines] == [0, 1, 2, 3, 4, 5]
    assert [line["status"] for line in lines] == ["ok", "invalid", "ok", "invalid", "ok", "invalid"]
    assert objective.calls == 3


@pytest.mark.parametrize("interval,expected", [(0.0, 40), (3600.0, 2)])
def test_cheap_trials_share_an_fsync_and_finishing_fsyncs_the_rest(
    tmp_path, monkeypatch, interval, expected
):
    """Group commit: at most one fsync per FSYNC_INTERVAL_SECONDS while trials are cheap (the
    first trial's, then finish's for the rest); with no interval, one per trial as before."""
    from llmhpo.store import trial_log

    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(trial_log, "FSYNC_INTERVAL_SECONDS", interval)
    monkeypatch.setattr(
        trial_log.os,
        "fsync",
        lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}")) or real_fsync(fd),
    )
    study = make_study(tmp_path, budget=40)
    study.run()
    assert synced.count(str(tmp_path / "trials.jsonl")) == expected  # this study's log only
    assert len(trial_lines(tmp_path)) == 40


def test_a_kill_9_loses_no_told_trial(tmp_path):
    """Lines reach the kernel before the tuner hears of a trial; fsync is only about power
    loss. The process prints each round once told, and is killed mid-study."""
    import signal
    import subprocess
    import sys
    import time

    script = f"""
import sys, llmhpo
study = llmhpo.Study({{"x": {{"type": "float", "low": -5.0, "high": 5.0}}}}, "random",
                     budget=100000, folder={str(tmp_path / "s")!r})
while True:
    trial = study.ask()
    study.tell(trial, trial.config["x"] ** 2)
    print(trial.number, flush=True)
"""
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    told = []
    while len(told) < 300:
        told.append(int(process.stdout.readline()))
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    told += [int(line) for line in process.stdout.read().split()]
    time.sleep(0.1)
    lines = trial_lines(tmp_path / "s")  # every line whole: no torn line to repair
    assert [line["round"] for line in lines[: len(told)]] == told


def test_a_cheap_trial_before_a_long_one_is_fsynced_when_its_interval_ends(tmp_path, monkeypatch):
    """Group commit does not hold a told trial until the next one: a timer fsyncs it at the
    end of the interval, however long the next trial runs. Only this log's own fsyncs are
    counted: `os.fsync` is patched for the whole process, and another test's thread in the
    same worker may fsync a file of its own meanwhile."""
    import time

    from llmhpo.store import trial_log

    path = tmp_path / "trials.jsonl"
    synced = []
    real_fsync = os.fsync

    def counted(fd):
        if os.readlink(f"/proc/self/fd/{fd}") == str(path):
            synced.append(time.monotonic())
        real_fsync(fd)

    monkeypatch.setattr(trial_log, "FSYNC_INTERVAL_SECONDS", 0.2)
    monkeypatch.setattr(trial_log.os, "fsync", counted)
    log = TrialLog(path)
    log.append(TrialRecord(round=0, status="ok", config={"x": 1}))  # the first: fsynced at once
    log.append(TrialRecord(round=1, status="ok", config={"x": 2}))  # within the interval: waits
    assert len(synced) == 1
    deadline = time.monotonic() + 30  # ...while the next trial runs: the timer fsyncs it
    while len(synced) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(synced) == 2
    log.close()
    assert len(synced) == 2  # nothing was pending any more
