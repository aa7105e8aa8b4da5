"""Many workers, one study: executor=local (submitit's worker processes), asynchronous asks
and batches, pruning from workers, and what survives a killed coordinator or a killed worker
(the same on a real SLURM cluster: test_slurm.py)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import llmhpo
from llmhpo.errors import ConfigError
from llmhpo.space import SearchSpace
from llmhpo.store.folder import RUNNING_FILE, TRIALS_FILE
from llmhpo.store.trial_log import TrialLog
from llmhpo.study import StudyLoop
from llmhpo.study.executor import Executor
from llmhpo.tuners.bo import OptunaTuner
from tests.helpers.objectives import (
    hangs_above_zero,
    omp_threads,
    slow_square_curve,
    square,
    timed_square,
)
from tests.helpers.runs import running_trials, trial_lines, wait_for

SPACE = {"x": {"type": "float", "low": -5.0, "high": 5.0}}
ROOT = Path(__file__).resolve().parents[1]


def test_local_workers_evaluate_what_inline_evaluates_for_random_search(tmp_path):
    """Random search is not told pending trials, so its configurations are the same whatever
    runs them; the log of the asynchronous study holds each round once."""
    inline = llmhpo.Study(SPACE, "random", budget=6, folder=tmp_path / "inline")
    inline.optimize(square)
    local = llmhpo.Study(
        SPACE, "random", budget=6, folder=tmp_path / "local",
        executor={"name": "local", "workers": 3},
    )  # fmt: skip
    summary = local.optimize(square)
    assert summary["trials"] == 6 and summary["status_counts"]["ok"] == 6
    by_round = {r.round: r.config for r in TrialLog(tmp_path / "local" / TRIALS_FILE).read()}
    assert by_round == {r.round: r.config for r in inline.trials}
    assert json.loads((tmp_path / "local" / RUNNING_FILE).read_text()) == {"running": []}


def test_an_asynchronous_log_has_each_trial_once_with_when_it_was_asked(tmp_path):
    study = llmhpo.Study(
        SPACE, "random", budget=4, folder=tmp_path, executor={"name": "local", "workers": 2}
    )
    study.optimize(square)
    lines = [json.loads(line) for line in (tmp_path / TRIALS_FILE).read_text().splitlines()]
    assert sorted(line["round"] for line in lines) == [0, 1, 2, 3]
    assert all("asked_after" in line for line in lines)
    assert [line["asked_after"] for line in sorted(lines, key=lambda x: x["round"])][:2] == [0, 0]


@pytest.mark.parametrize(
    "executor, key",
    [
        ({"name": "local", "workers": 0}, "workers"),
        ({"name": "inline", "workers": 2}, "workers"),
        ({"name": "local", "mode": "sometimes"}, "mode"),
        ({"name": "local", "bogus": 1}, "bogus"),
        ({"name": "local", "timeout_min": 0}, "timeout_min"),
        ({"name": "cloud"}, "cloud"),
    ],
)
def test_a_wrong_executor_is_refused_naming_its_key(tmp_path, executor, key):
    with pytest.raises(ConfigError, match=key):
        llmhpo.Study(SPACE, "random", budget=2, folder=tmp_path / "s", executor=executor)
    assert not (tmp_path / "s" / TRIALS_FILE).exists()


def test_the_cli_runs_a_study_on_local_workers(cli, tmp_path):
    result = cli("objective=toy", "tuner=random", "budget=5", "executor=local",
                 "executor.workers=2", f"hydra.run.dir={tmp_path / 'run'}")  # fmt: skip
    assert result.returncode == 0, result.stdout
    records = TrialLog(tmp_path / "run" / TRIALS_FILE).read()
    assert sorted(r.round for r in records) == [0, 1, 2, 3, 4]
    assert "submitted as job" in result.stdout


def _tpe_loop(folder: Path, budget: int) -> StudyLoop:
    space = SearchSpace.from_dict(SPACE)
    tuner = OptunaTuner(space, seed=3, sampler="tpe", n_startup_trials=2)
    return StudyLoop(folder, space, tuner, None, budget, "tpe", executor=Executor("local", 3))


def _drive(loop: StudyLoop, order: random.Random, stop_after: int | None = None) -> None:
    """Keep three trials out, telling a random one of them each time, as workers finishing in
    any order would; stop (as a killed coordinator) after `stop_after` tells."""
    out = {}
    told = 0
    while True:
        while len(out) < 3 and (request := loop.ask()) is not None:
            out[request.round] = request
        if not out:
            return
        request = out.pop(order.choice(sorted(out)))
        loop.tell(request, square(request.config))
        told += 1
        if stop_after is not None and told == stop_after:
            return


def test_a_resumed_asynchronous_study_proposes_what_an_uninterrupted_one_did(tmp_path):
    """TPE (constant liar: told the running trials) resumed from the log and running.json,
    with trials told in a random order, proposes what the study that never stopped did."""
    whole = _tpe_loop(tmp_path / "whole", 12)
    _drive(whole, random.Random(7))
    first = _tpe_loop(tmp_path / "resumed", 12)
    order = random.Random(7)
    _drive(first, order, stop_after=5)
    first.trial_log.close()
    running = json.loads((tmp_path / "resumed" / RUNNING_FILE).read_text())["running"]
    assert len(running) == 2  # stopped with two trials out
    again = _tpe_loop(tmp_path / "resumed", 12)
    again.resume()
    assert [held.round for held in again.rounds.waiting()] == [
        entry["request"]["round"] for entry in running
    ]
    _drive(again, order)  # the running trials are handed out again first, then new ones
    whole_log = {r.round: r.config for r in whole.resume()}
    assert {r.round: r.config for r in again.resume()} == whole_log


COORDINATOR = textwrap.dedent(
    """
    import logging, sys, time, llmhpo

    logging.basicConfig(level=logging.INFO)

    def slow(config):
        time.sleep(SECONDS)  # in the worker: sys.argv is the worker's there
        return config["x"] ** 2

    SPACE = {"x": {"type": "float", "low": -5, "high": 5}}
    study = llmhpo.Study(SPACE, "random", budget=6, folder=sys.argv[1],
                         executor={"name": "local", "workers": 2, "retries": RETRIES})
    print(study.optimize(slow)["trials"], flush=True)
    """
)


def _start(script: Path, folder: Path, seconds: float, retries: int = 0) -> subprocess.Popen:
    source = COORDINATOR.replace("SECONDS", repr(seconds)).replace("RETRIES", str(retries))
    script.write_text(source)
    return subprocess.Popen(
        [sys.executable, str(script), str(folder)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def test_a_coordinator_killed_with_trials_running_loses_and_duplicates_nothing(tmp_path):
    script = tmp_path / "coordinator.py"
    folder = tmp_path / "study"
    first = _start(script, folder, 2.0)
    wait_for(lambda: len([e for e in running_trials(folder) if e["job"]]) == 2)
    jobs = {e["job"] for e in running_trials(folder)}
    first.send_signal(signal.SIGKILL)
    first.wait()
    second = _start(script, folder, 2.0)
    output, _ = second.communicate(timeout=120)
    assert second.returncode == 0, output
    assert output.strip().splitlines()[-1] == "6"
    records = TrialLog(folder / TRIALS_FILE).read()
    assert sorted(r.round for r in records) == list(range(6))
    assert all(r.status == "ok" for r in records)
    for job in jobs:  # the jobs still running were collected, not run again
        assert f"collecting its job {job}" in output


@pytest.mark.parametrize("retries", [0, 1])
def test_a_killed_worker_fails_its_trial_with_the_reason_or_reruns_it(tmp_path, retries):
    script = tmp_path / "coordinator.py"
    folder = tmp_path / "study"
    coordinator = _start(script, folder, 1.0, retries)
    wait_for(lambda: any(e["job"] for e in running_trials(folder)))
    victim = next(e for e in running_trials(folder) if e["job"])
    for task in _children(int(victim["job"])):  # the trial's process, as the OOM killer would
        os.kill(task, signal.SIGKILL)
    output, _ = coordinator.communicate(timeout=120)
    assert coordinator.returncode == 0, output
    records = {r.round: r for r in TrialLog(folder / TRIALS_FILE).read()}
    assert sorted(records) == list(range(6))
    lost = records[victim["request"]["round"]]
    if retries:  # run again on a new worker: told once, with the value
        assert lost.status == "ok" and lost.value == lost.config["x"] ** 2, lost.error
        assert f"(job {victim['job']}, state FINISHED) ended without a result" in output
        assert "submitting it again" in output
    else:
        assert lost.status == "failed" and "WorkerLostError" in lost.error
        assert f"job {victim['job']}" in lost.error


def _children(pid: int) -> list[int]:
    """The processes a local job's controller started (its trial's)."""
    wait_for(lambda: Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_the_llm_is_told_the_configurations_still_being_evaluated(tmp_path):
    """The embedded model's second request of a batch lists the first configuration, out for
    evaluation, so that it is not proposed again."""
    study = llmhpo.Study(
        SPACE, "llm", budget=2, batch_size=2, folder=tmp_path / "study",
        llm={"preset": "local", "cache_dir": str(tmp_path / "cache")}, max_attempts=1,
    )  # fmt: skip
    first, second = study.ask_batch()
    requests = [
        json.loads(path.read_text())["request"]["messages"][-1]["content"]
        for path in (tmp_path / "cache").rglob("*.json")
    ]
    listed = f"Being evaluated now, results not known yet: Config 1: {json.dumps(first.config)}"
    assert sum(listed in request for request in requests) == 1, requests
    for trial in (first, second):
        study.tell(trial, square(trial.config))
    study.finish()


def test_a_workers_reports_reach_the_study_once_each_and_its_stop_goes_back(tmp_path):
    """The report files: each point is handed to the study once, a line still being written
    waits, and the pruner's stop reaches the worker at its next report."""
    from llmhpo.study.report_files import ReportFiles

    worker, study = ReportFiles(tmp_path, 3), ReportFiles(tmp_path, 3)
    study.clear()
    heard = []
    assert worker.send(1, 0.5) is False
    study.forward(lambda step, value: heard.append((step, value)) or False)
    with worker.curve_path.open("a") as file:
        file.write("[2, 0.4")  # torn: the worker is writing it now
    study.forward(lambda step, value: heard.append((step, value)) or False)
    assert heard == [(1, 0.5)]
    with worker.curve_path.open("a") as file:
        file.write("]\n")
    study.forward(lambda step, value: heard.append((step, value)) or True)
    assert heard == [(1, 0.5), (2, 0.4)]
    assert worker.send(3, 0.3) is True  # the study's pruner stopped it at step 2


def test_a_batch_starts_when_every_trial_of_the_last_one_is_told(tmp_path, monkeypatch):
    """mode: batch hands out `workers` trials and waits for the slowest: no trial starts
    before every trial of the batch before it has ended."""
    monkeypatch.setenv("TIMES_FILE", str(tmp_path / "times.jsonl"))
    study = llmhpo.Study(
        SPACE, "random", budget=6, folder=tmp_path / "s",
        executor={"name": "local", "workers": 2, "mode": "batch"},
    )  # fmt: skip
    assert study.optimize(timed_square)["status_counts"]["ok"] == 6
    runs = sorted(json.loads(line) for line in (tmp_path / "times.jsonl").read_text().splitlines())
    for batch in (2, 4):
        assert min(start for start, _ in runs[batch:]) >= max(end for _, end in runs[:batch])
    lines = trial_lines(tmp_path / "s")
    assert [line["round"] for line in lines] == list(range(6))  # told a batch at a time


def test_a_pruner_stops_trials_running_on_workers(tmp_path):
    """The workers' reports reach the study's pruner, and its stop reaches the workers: some
    trials end early, pruned, with their curve as far as they ran."""
    study = llmhpo.Study(
        SPACE, "random", budget=8, seed=0, folder=tmp_path / "s",
        pruner={"name": "asha", "reduction_factor": 2},
        executor={"name": "local", "workers": 2, "poll_seconds": 0.05},
    )  # fmt: skip
    summary = study.optimize(slow_square_curve)
    lines = trial_lines(tmp_path / "s")
    assert summary["status_counts"]["pruned"] >= 1, [line["status"] for line in lines]
    for line in lines:
        steps = [step for step, _ in line["curve"]]
        assert steps == list(range(1, len(steps) + 1))
        if line["status"] == "pruned":
            assert len(steps) < 6 and line["error"] == f"pruned at step {steps[-1]}"
        else:
            assert line["status"] == "ok" and len(steps) == 6


def test_a_trial_past_timeout_min_is_stopped_and_failed_not_run_again(tmp_path):
    study = llmhpo.Study(
        SPACE, "random", budget=4, seed=1, folder=tmp_path / "s",
        executor={"name": "local", "workers": 2, "timeout_min": 0.05, "retries": 1},
    )  # fmt: skip
    summary = study.optimize(hangs_above_zero)
    lines = trial_lines(tmp_path / "s")
    hung = [line for line in lines if line["config"]["x"] > 0]
    assert hung and len(hung) < 4  # seed 1 draws both kinds
    for line in lines:
        if line in hung:
            assert line["status"] == "failed", line
            assert line["error"].startswith("TimeoutError: the trial ran past executor.timeout_")
            assert line["seconds"] < 30  # stopped after 3 s, not left to hang a minute
        else:
            assert line["status"] == "ok" and line["value"] == line["config"]["x"]
    submitted = list((tmp_path / "s" / "jobs").glob("*_submitted.pkl"))
    assert len(submitted) == summary["trials"] == 4  # a timed-out trial is not resubmitted


@pytest.mark.parametrize("users", [None, "3"])
def test_local_workers_share_the_cores_unless_the_user_set_the_threads(
    tmp_path, monkeypatch, users
):
    """Each of `workers` local jobs starts with cores // workers threads, so that OpenMP
    pools do not spin on each other's cores; a thread count the user set is kept."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    if users:
        monkeypatch.setenv("OMP_NUM_THREADS", users)
    study = llmhpo.Study(SPACE, "random", budget=2, folder=tmp_path / "s",
                         executor={"name": "local", "workers": 2})  # fmt: skip
    study.optimize(omp_threads)
    share = max(1, (os.cpu_count() or 1) // 2)
    assert {trial.value for trial in study.trials} == {float(users or share)}
    assert os.environ.get("OMP_NUM_THREADS") == users  # this process's environment as it was
