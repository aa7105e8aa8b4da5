"""Studies on a real SLURM cluster (marked `slurm`; `make test-slurm` with a cluster up, as
../shared/slurm/start.sh starts one): executor=slurm with two workers, a job cancelled with
scancel mid-trial, and Hydra's submitit launcher carrying a sweep's jobs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from llmhpo.store.folder import TRIALS_FILE
from llmhpo.store.trial_log import TrialLog
from tests.helpers.runs import run_folders, running_trials, trial_lines, wait_for

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(
        not os.environ.get("SLURM_CONF") or shutil.which("sbatch") is None,
        reason="needs a SLURM cluster (../shared/slurm/start.sh, then SLURM_CONF)",
    ),
]
APP = Path(__file__).parent / "data" / "hydra_app" / "app.py"
# The single-node cluster's node has a few cores and no GPU: the shipped launcher asks for more.
SMALL_JOBS = ["hydra.launcher.cpus_per_task=1", "hydra.launcher.gpus_per_node=0",
              "hydra.launcher.mem_gb=1", "hydra.launcher.timeout_min=5"]  # fmt: skip


def test_a_study_runs_on_slurm_with_two_workers(cli, tmp_path):
    result = cli("objective=toy", "tuner=random", "budget=6", "executor=slurm",
                 "executor.workers=2", "executor.timeout_min=5",
                 f"hydra.run.dir={tmp_path / 'run'}", timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stdout
    records = TrialLog(tmp_path / "run" / TRIALS_FILE).read()
    assert sorted(r.round for r in records) == list(range(6))
    assert all(r.status == "ok" for r in records)
    jobs = {line.split("as job ")[1].split()[0] for line in result.stdout.splitlines()
            if "submitted as job" in line}  # fmt: skip
    assert len(jobs) == 6  # one SLURM job per trial


COORDINATOR = textwrap.dedent(
    """
    import logging, sys, time, llmhpo

    logging.basicConfig(level=logging.INFO)

    def slow(config):
        time.sleep(20)
        return config["x"] ** 2

    SPACE = {"x": {"type": "float", "low": -5, "high": 5}}
    executor = {"name": "slurm", "workers": 2, "retries": 0, "timeout_min": 5,
                "poll_seconds": 0.5}
    study = llmhpo.Study(SPACE, "random", budget=2, folder=sys.argv[1], executor=executor)
    print(study.optimize(slow)["status_counts"], flush=True)
    """
)


def test_a_job_cancelled_mid_trial_fails_its_trial_naming_the_job(tmp_path):
    """scancel on one of two running jobs: its trial is failed with the job and its state,
    the other trial ends as usual."""
    script, folder = tmp_path / "coordinator.py", tmp_path / "study"
    script.write_text(COORDINATOR)
    coordinator = subprocess.Popen(
        [sys.executable, str(script), str(folder)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    victim = _first_job_running(folder)
    subprocess.run(["scancel", victim["job"]], check=True)
    output, _ = coordinator.communicate(timeout=240)
    assert coordinator.returncode == 0, output
    records = {r.round: r for r in TrialLog(folder / TRIALS_FILE).read()}
    assert sorted(records) == [0, 1]
    lost = records[victim["request"]["round"]]
    assert lost.status == "failed" and "WorkerLostError" in lost.error, lost.error
    assert f"job {victim['job']}, state CANCELLED" in lost.error
    (other,) = (r for r in records.values() if r.round != lost.round)
    assert other.status == "ok" and other.value == other.config["x"] ** 2


def _first_job_running(folder: Path) -> dict:
    """running.json's first entry whose SLURM job has started (squeue says R)."""
    return wait_for(
        lambda: next((entry for entry in running_trials(folder)
                      if entry["job"] and _squeue_state(entry["job"]) == "R"), None),
        seconds=120,
    )  # fmt: skip


def _squeue_state(job: str) -> str:
    listed = subprocess.run(["squeue", "-h", "-j", job, "-o", "%t"],
                            capture_output=True, text=True, check=False)  # fmt: skip
    return listed.stdout.strip()


def test_a_multirun_runs_each_study_as_a_slurm_job(cli, tmp_path):
    """hydra/launcher=slurm (conf/hydra/launcher/slurm.yaml over Hydra's submitit launcher):
    one SLURM job per seed, each a complete run folder."""
    result = cli("-m", "hydra/launcher=slurm", *SMALL_JOBS, "objective=toy", "tuner=random",
                 "budget=3", "seed=0,1", timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]
    folders = run_folders(tmp_path / "outputs" / "multirun")
    assert len(folders) == 2 and all(len(trial_lines(f)) == 3 for f in folders)
    assert list((tmp_path / "outputs" / "multirun" / ".submitit").iterdir())


def test_the_sweeper_hands_its_batches_to_hydras_slurm_launcher(tmp_path):
    """A user's own Hydra app swept by hydra/sweeper=llmhpo with
    hydra/launcher=submitit_slurm: every job ran on the cluster, and the study saw them."""
    folder = tmp_path / "sweep"
    result = subprocess.run(
        [sys.executable, str(APP), "-m", "hydra/sweeper=llmhpo", f"hydra.sweep.dir={folder}",
         "hydra/launcher=submitit_slurm", *SMALL_JOBS, "x=interval(-1, 1)",
         "hydra.sweeper.budget=4", "hydra.sweeper.n_jobs=2"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]
    calls = [json.loads(line) for line in (folder / "calls.jsonl").read_text().splitlines()]
    assert len(calls) == 4 and len({call["pid"] for call in calls}) == 4  # a process per job
    lines = trial_lines(folder)
    assert [line["value"] for line in lines] == [
        next(c["value"] for c in calls if c["params"]["x"] == line["config"]["x"]) for line in lines
    ]
