"""One study per folder at a time: the folder's lock, across real processes."""

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading

import pytest

from llmhpo.store import folder as run_folder
from llmhpo.store.folder import LOCK_FILE, FolderBusyError, fingerprint, job_config, locked
from tests.helpers.config import compose_config
from tests.helpers.runs import run_cli, trial_lines

SLOW_STUDY = [
    sys.executable,
    "-m",
    "llmhpo.run",
    "objective=toy",
    "tuner=random",
    "budget=4",
    "objective.delay_seconds=1.0",  # 4 s: long enough that both processes overlap under load
]


def start(args, cwd):
    return subprocess.Popen(
        args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def the_log(root):
    (path,) = root.glob("outputs/*/trials.jsonl")
    return path.parent


def test_two_processes_on_one_config_leave_each_round_once_and_the_second_stops(tmp_path):
    first, second = start(SLOW_STUDY, tmp_path), start(SLOW_STUDY, tmp_path)
    results = [(p.wait(timeout=120), *p.communicate()) for p in (first, second)]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 3], results  # 3: the folder is busy (a mistake would be 2)
    (stopped,) = [err for code, _, err in results if code == 3]
    assert "is in use by process" in stopped and "on_busy=wait" in stopped
    assert "Traceback" not in stopped
    assert [line["round"] for line in trial_lines(the_log(tmp_path))] == [0, 1, 2, 3]


def test_with_on_busy_wait_the_second_process_waits_then_finds_the_study_done(tmp_path):
    waiting = [*SLOW_STUDY, "on_busy=wait"]
    first, second = start(waiting, tmp_path), start(waiting, tmp_path)
    results = [(p.wait(timeout=120), *p.communicate()) for p in (first, second)]
    assert [code for code, _, _ in results] == [0, 0], results
    folder = the_log(tmp_path)  # on_busy is no part of the folder's name: one folder
    assert [line["round"] for line in trial_lines(folder)] == [0, 1, 2, 3]
    assert any("already finished (4 of 4 trials)" in out + err for _, out, err in results)


def test_a_killed_holders_lock_does_not_block(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from llmhpo.store.folder import locked\n"
            "with locked(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    busy = rf"{tmp_path} is in use by process {holder.pid} "
    with pytest.raises(FolderBusyError, match=busy), locked(tmp_path):
        pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with locked(tmp_path):  # at once: the kernel dropped the dead process's lock
        assert str(tmp_path.joinpath(LOCK_FILE).read_text()).startswith("process ")


def test_a_process_arriving_before_the_holder_wrote_its_line_still_names_the_holder(tmp_path):
    # The window CI once hit: the holder has the lock but has not yet written who it is.
    lock_path = tmp_path / LOCK_FILE
    with lock_path.open("a+", encoding="utf-8") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        writes_late = threading.Timer(
            0.3, lock_path.write_text, ["process 4242 on host since now\n"]
        )
        writes_late.start()
        with (
            pytest.raises(FolderBusyError, match="in use by process 4242 on host"),
            locked(tmp_path),
        ):
            pass
        writes_late.join()


def test_a_released_lock_names_no_one(tmp_path):
    with locked(tmp_path):
        assert (tmp_path / LOCK_FILE).read_text().startswith(f"process {os.getpid()} ")
    assert (tmp_path / LOCK_FILE).read_text() == ""


def test_a_holder_that_never_writes_its_line_is_named_another_process(tmp_path, monkeypatch):
    monkeypatch.setattr(run_folder, "HOLDER_WRITE_WAIT_SECONDS", 0.1)
    with (tmp_path / LOCK_FILE).open("a+", encoding="utf-8") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(FolderBusyError, match="in use by another process"), locked(tmp_path):
            pass


def test_a_sweep_with_the_same_config_twice_runs_it_once(tmp_path):
    result = run_cli(
        [
            "-m",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            "objective=toy",
            "tuner=random",
            "budget=3",
            "objective.delay_seconds=1.0",  # 3 s: the two parallel jobs overlap
            "seed=0,0",
        ],
        tmp_path,
        timeout=180,
        split=True,
    )
    (log_path,) = tmp_path.glob("outputs/multirun/*/trials.jsonl")
    assert [line["round"] for line in trial_lines(log_path.parent)] == [0, 1, 2]
    assert result.returncode != 0  # the second job stopped, naming the folder and the holder
    assert "is in use by process" in result.stdout + result.stderr
    summary = json.loads((log_path.parent / "summary.json").read_text())
    assert summary["trials"] == 3


def test_on_busy_must_be_stop_or_wait(tmp_path):
    with pytest.raises(ValueError, match="on_busy must be one of"), locked(tmp_path, "later"):
        pass


def test_new_tuner_keys_at_their_neutral_value_leave_earlier_fingerprints_alone():
    plain = job_config(compose_config(["objective=toy", "tuner=random"]))
    assert set(plain["tuner"]) == {"_target_", "name"}  # as recorded before the keys existed
    default_first = job_config(
        compose_config(["objective=toy", "tuner=random", "tuner.start_at_default=true"])
    )
    assert (
        default_first["tuner"]["start_at_default"] is True
        and "initial" not in default_first["tuner"]
    )
    assert fingerprint(default_first) != fingerprint(plain)
