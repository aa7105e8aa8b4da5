"""The real command line: `python -m llmhpo.run` in a subprocess, in a temporary folder."""

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers.runs import run_folders, trial_lines


@pytest.fixture
def toy_cli(cli):
    """The CLI on the toy objective with random search unless the arguments choose otherwise."""

    def run(*args: str, **kwargs):
        flags = [a for a in args if a.startswith("-")]
        overrides = [a for a in args if not a.startswith("-")]
        chosen = {a.split("=")[0] for a in overrides}
        defaults = [d for d in ("objective=toy", "tuner=random") if d.split("=")[0] not in chosen]
        return cli(*flags, *defaults, *overrides, **kwargs)

    return run


def test_run_writes_a_study_and_rerun_resumes_without_repeating(toy_cli, tmp_path):
    first = toy_cli("objective.function=himmelblau", "tuner=bo", "budget=4")
    assert first.returncode == 0, first.stdout
    (folder,) = run_folders(tmp_path / "outputs")
    assert folder.name.startswith("toy-himmelblau_bo-tpe_seed0_")
    log_before = (folder / "trials.jsonl").read_text()
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["trials"] == 4 and summary["best_value"] is not None

    again = toy_cli("objective.function=himmelblau", "tuner=bo", "budget=4")
    assert again.returncode == 0, again.stdout
    assert run_folders(tmp_path / "outputs") == [folder]
    assert (folder / "trials.jsonl").read_text() == log_before
    assert "already finished (4 of 4 trials); not rerun" in again.stdout


def test_different_configs_never_share_a_folder(toy_cli, tmp_path):
    for args in (["budget=3"], ["budget=3", "seed=1"], ["budget=3", "tuner=bo"]):
        assert toy_cli(*args).returncode == 0
    assert len(run_folders(tmp_path / "outputs")) == 3


def test_a_folder_holding_another_study_is_refused(toy_cli, tmp_path):
    assert toy_cli("budget=3", "hydra.run.dir=mine").returncode == 0
    clash = toy_cli("budget=3", "seed=5", "hydra.run.dir=mine")
    assert clash.returncode != 0
    assert "already holds a study with a different configuration (differs in: seed)" in clash.stdout
    assert len(trial_lines(tmp_path / "mine")) == 3


def test_resume_after_kill_keeps_earlier_rounds_and_fills_the_budget(tmp_path):
    args = [
        sys.executable,
        "-m",
        "llmhpo.run",
        "objective=toy",
        "tuner=bo",
        "budget=8",
        "objective.delay_seconds=0.4",
    ]
    process = subprocess.Popen(
        args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 90
    log_path = None
    while time.monotonic() < deadline:
        found = list(tmp_path.glob("outputs/*/trials.jsonl"))
        if found and len(found[0].read_text().splitlines()) >= 3:
            log_path = found[0]
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert log_path is not None, "the study never wrote 3 trials"
    before = log_path.read_text().splitlines()
    assert 3 <= len(before) < 8

    resumed = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    after = log_path.read_text().splitlines()
    assert [json.loads(line)["round"] for line in after] == list(range(8))
    assert after[: len(before)] == before
    summary = json.loads((log_path.parent / "summary.json").read_text())
    assert summary["status_counts"]["ok"] == 8

    # The resumed study proposed what an uninterrupted one does: the log was replayed into
    # the tuner, so no earlier configuration is evaluated again and every round matches.
    elsewhere = tmp_path / "uninterrupted"
    elsewhere.mkdir()
    whole = subprocess.run(args, cwd=elsewhere, capture_output=True, text=True, timeout=120)
    assert whole.returncode == 0, whole.stderr
    (reference,) = elsewhere.glob("outputs/*/trials.jsonl")
    configs = [json.loads(line)["config"] for line in after]
    assert configs == [json.loads(line)["config"] for line in reference.read_text().splitlines()]
    assert len({json.dumps(config, sort_keys=True) for config in configs}) == 8


def test_multirun_gives_one_folder_per_job(cli, tmp_path):
    result = cli("-m", "objective=toy", "tuner=random,bo", "seed=range(5)")
    assert result.returncode == 0, result.stdout
    folders = run_folders(tmp_path / "outputs" / "multirun")
    assert len(folders) == 10
    assert len({folder.name.split("_")[1] for folder in folders}) == 2
    assert all(len(trial_lines(folder)) == 10 for folder in folders)


def test_joblib_launcher_runs_jobs_in_parallel_processes(toy_cli, tmp_path):
    result = toy_cli(
        "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "seed=0,1", "budget=3"
    )
    assert result.returncode == 0, result.stdout
    assert "Joblib.Parallel(n_jobs=2" in result.stdout
    assert len(run_folders(tmp_path / "outputs" / "multirun")) == 2


def test_slurm_launcher_composes(cli):
    result = cli("hydra/launcher=slurm", "hydra.launcher.partition=gpu", "--cfg", "hydra")
    assert result.returncode == 0, result.stdout
    assert "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher" in result.stdout
    assert "partition: gpu" in result.stdout


def test_help_lists_the_groups(cli):
    result = cli("--help")
    assert result.returncode == 0
    for group in (
        "objective: bayesmark, benchmark, hpobench, hpolib, nb201, sklearn, toy, train",
        "search_space: constrained, hpobench_histgb, hpobench_lr, hpobench_nn, hpobench_rf, "
        "hpobench_svm, own, toy2d",
        "tuner: bo, bo_gp, centaur, cmaes, fixed, hybrid, llambo, llm, random, random_default, smac, tpe_default",
        "experiment: bayesmark_suite, hpobench_suite, hpolib_suite, leaderboard, llambo_warm_start, "
        "nb201_suite, paper_resnet9, paper_vit, quickstart, sklearn_suite, sllmbo",
        "task: bayesmark-AdaBoost-breast, bayesmark-AdaBoost-diabetes,",
        "llm: anthropic, local, ollama, openai",
        "prompt: chat, compressed",
    ):
        assert group in result.stdout


def test_cfg_job_prints_the_composed_config(cli, tmp_path):
    result = cli("objective=toy", "tuner=bo", "tuner.sampler=gp", "--cfg", "job")
    assert result.returncode == 0
    assert "sampler: gp" in result.stdout and "budget: 10" in result.stdout
    assert not (tmp_path / "outputs").exists()


def test_unknown_toy_function_fails_clearly(toy_cli):
    result = toy_cli("objective.function=banana")
    assert result.returncode != 0
    assert "unknown toy function 'banana'" in result.stdout


@pytest.mark.parametrize("workdir", ["elsewhere"])
def test_conf_is_found_from_any_working_directory(tmp_path, workdir):
    other = tmp_path / workdir
    other.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "llmhpo.run", "objective=toy", "tuner=random", "budget=2"],
        cwd=other,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout
    assert len(run_folders(other / "outputs")) == 1


def test_refused_commands_leave_no_run_folder_behind(toy_cli, tmp_path):
    """Each mistake is refused before any work, and claims no folder a corrected command would
    then be refused (one folder per config: the next run of the same config would find it)."""
    mistakes = [
        ("budget=ten",),
        ("tuner=bo", "tuner.n_startup_trials=0"),
        ("tuner=llm", "llm=local", "llm.model=gpt-4o"),
        ("objective.function=nope",),
    ]
    for mistake in mistakes:
        result = toy_cli(*mistake)
        assert result.returncode == 2, result.stdout[-2000:]
    assert not list((tmp_path / "outputs").glob("*"))
    assert toy_cli("tuner=bo", "tuner.n_startup_trials=1", "budget=2").returncode == 0
    assert len(run_folders(tmp_path / "outputs")) == 1
