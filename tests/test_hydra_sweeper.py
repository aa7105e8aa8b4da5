"""`hydra/sweeper=llmhpo`: a real Hydra app of its own (tests/data/hydra_app) swept in a
subprocess, as a user runs it; and the override grammar read as a search space."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser

from llmhpo.errors import ConfigError
from llmhpo.integrations.hydra_params import override_value, sweep_space
from llmhpo.space import CategoricalParam, FloatParam, GridParam, IntParam, SearchSpace
from tests.helpers.runs import trial_lines

APP = Path(__file__).parent / "data" / "hydra_app" / "app.py"
ALL_FORMS = [
    "x=interval(-1, 1)",
    "n=int(interval(1, 8))",
    "lr=tag(log, interval(1e-4, 1e-1))",
    "width=tag(log, int(interval(8, 256)))",
    "grid=range(1, 10, 2)",
    "act=choice(relu, tanh)",
    "+extra=choice(1, 2)",
    "+label=hello",
    "optim=glob(*)",  # a config group's options
]


def sweep_command(folder: Path) -> list[str]:
    return [sys.executable, str(APP), "-m", "hydra/sweeper=llmhpo", f"hydra.sweep.dir={folder}"]


def sweep(tmp_path: Path, *args: str, name: str = "sweep", ok: bool = True, timeout: float = 180):
    """Run the app with `-m hydra/sweeper=llmhpo ARGS` in tmp_path; (sweep dir, result)."""
    folder = tmp_path / name
    result = subprocess.run(
        [*sweep_command(folder), *args],
        cwd=tmp_path,
        env={**os.environ, "HYDRA_FULL_ERROR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    if ok:
        assert result.returncode == 0, result.stdout[-4000:]
    return folder, result


def calls(folder: Path) -> list[dict]:
    """What each job of the app received and returned (it appends one line per job)."""
    path = folder / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def results(folder: Path) -> dict:
    return yaml.safe_load((folder / "optimization_results.yaml").read_text())


# --- the override grammar as a search space -------------------------------------------------


def test_each_form_of_the_grammar_becomes_the_parameter_it_means():
    swept = sweep_space([*ALL_FORMS[:-1], "db=mysql", "p=tag(logit, interval(0.01, 0.99))"])
    params = swept.space.params
    assert params["p"] == FloatParam("p", 0.01, 0.99, logit=True)
    assert params["x"] == FloatParam("x", -1.0, 1.0)
    assert params["n"] == IntParam("n", 1, 8)
    assert params["lr"] == FloatParam("lr", 1e-4, 1e-1, log=True)
    assert params["width"] == IntParam("width", 8, 256, log=True)
    assert params["grid"] == GridParam("grid", (1, 3, 5, 7, 9))  # Hydra's range: stop excluded
    assert params["act"] == CategoricalParam("act", ("relu", "tanh"))
    assert params["extra"] == CategoricalParam("extra", (1, 2))
    assert swept.keys["extra"] == "+extra"  # appended keys keep their +
    assert swept.fixed == ["+label=hello", "db=mysql"]
    assert swept.overrides({"x": 0.5, "extra": 2})[-2:] == ["x=0.5", "+extra=2"]


def test_a_later_fixed_value_pins_a_parameter_and_a_file_space_is_extended(tmp_path):
    space_file = tmp_path / "space.yaml"
    space_file.write_text(
        "x: {type: float, low: -1, high: 1}\nact: {type: categorical, choices: [relu, tanh]}\n"
    )
    swept = sweep_space(["n=int(interval(1, 8))", "x=0.25"], SearchSpace.from_yaml(space_file))
    assert swept.space.names == ["act", "n"]
    assert swept.fixed == ["x=0.25"]


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["db=glob(*)"], "ConfigLoader is not set"),
        (["x=1"], "nothing to tune"),
        (["x=interval(1, 0)"], "low"),
        (["x=choice([1, 2], [3])"], "not lists or dicts"),
        (["x=interval(0"], "cannot read the overrides"),
    ],
)
def test_what_the_sweeper_cannot_tune_is_refused_by_name(overrides, message):
    with pytest.raises(ConfigError, match=message):
        sweep_space(overrides)


@pytest.mark.parametrize(
    "value", ["relu", "a b", "it's", "true", "1", "null", "x.y/z", 3, 2.5e-5, 1e300, True, False]
)
def test_values_go_back_to_hydra_unchanged(value):
    parsed = OverridesParser.create().parse_override(f"key={override_value(value)}").value()
    assert parsed == value and type(parsed) is type(value)


# --- a real app, swept ----------------------------------------------------------------------


def test_random_search_sweeps_every_form_with_the_right_types_and_ranges(tmp_path):
    folder, _ = sweep(tmp_path, *ALL_FORMS, "hydra.sweeper.budget=8")
    jobs = calls(folder)
    assert sorted(job["job"] for job in jobs) == list(range(8))
    for job in jobs:
        params, types = job["params"], job["types"]
        assert types["x"] == "float" and -1 <= params["x"] <= 1
        assert types["n"] == "int" and 1 <= params["n"] <= 8
        assert types["lr"] == "float" and 1e-4 <= params["lr"] <= 1e-1
        assert types["width"] == "int" and 8 <= params["width"] <= 256
        assert types["grid"] == "int" and params["grid"] in {1, 3, 5, 7, 9}
        assert params["act"] in {"relu", "tanh"} and params["extra"] in {1, 2}
        assert params["label"] == "hello" and params["optim"]["name"] in {"adam", "sgd"}
    lines = trial_lines(folder)
    assert [line["round"] for line in lines] == list(range(8))
    by_job = {job["job"]: job for job in jobs}
    for line in lines:  # job i evaluated round i's configuration, and its value was logged
        job = by_job[line["round"]]
        assert line["value"] == pytest.approx(job["value"])
        received = {**job["params"], "optim": job["params"]["optim"]["name"]}  # a group's option
        assert all(received[name] == value for name, value in line["config"].items())
    best = min(jobs, key=lambda job: job["value"])
    assert results(folder)["best_value"] == pytest.approx(best["value"])
    assert results(folder)["best_params"]["x"] == best["params"]["x"]
    assert results(folder)["tuner"] == "random"
    assert {line["config"]["optim"] for line in lines} == {"adam", "sgd"}


def test_bo_maximises_a_named_entry_of_a_returned_dict(tmp_path):
    folder, _ = sweep(
        tmp_path,
        "x=interval(-1, 1)",
        "n=int(interval(1, 8))",
        "returns=dict",
        "hydra.sweeper.tuner=bo",
        "+hydra.sweeper.options.n_startup_trials=2",
        "hydra.sweeper.metric=loss",
        "hydra.sweeper.direction=maximize",
        "hydra.sweeper.budget=6",
    )
    jobs = calls(folder)
    assert len(jobs) == 6
    assert results(folder)["best_value"] == pytest.approx(max(job["value"] for job in jobs))
    lines = trial_lines(folder)
    assert lines[3]["tuner"] == {"sampler": "tpe"}
    assert [line["metrics"]["metric"] for line in lines] == [-line["value"] for line in lines]
    study = json.loads((folder / "study.json").read_text())["config"]
    assert study["tuner"]["n_startup_trials"] == 2
    assert study["objective"] == {"name": "app", "metric": "loss", "direction": "maximize"}


@pytest.mark.slow  # kept out of `make test` (under 5 min); `make test-all` runs it
def test_the_embedded_llm_proposes_every_round(tmp_path):
    folder, _ = sweep(
        tmp_path,
        "x=interval(-1, 1)",
        "act=choice(relu, tanh)",
        "hydra.sweeper.tuner=llm",
        "hydra.sweeper.llm=local",
        "hydra.sweeper.budget=3",
        "hydra.sweeper.task_description=a quadratic bowl",
    )
    lines = trial_lines(folder)
    assert [line["status"] for line in lines] == ["ok", "ok", "ok"]
    assert all(line["tuner"]["model"] == "SmolLM2-135M-Instruct" for line in lines)
    assert len(calls(folder)) == 3
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["llm"]["calls"] >= 3 and summary["finished"]
    first_prompt = lines[0]["tuner"]  # the description reached the request (cached on disk)
    assert first_prompt["prompt_tokens"] > 0
    cached = "".join(p.read_text() for p in (tmp_path / ".cache").rglob("*.json"))
    assert "a quadratic bowl" in cached


def test_n_jobs_sends_batches_that_the_joblib_launcher_runs_in_parallel(tmp_path):
    folder, _ = sweep(
        tmp_path,
        "x=interval(-1, 1)",
        "sleep=2.0",  # long beside a worker's start, so that the two jobs surely overlap
        "hydra/launcher=joblib",
        "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.budget=4",
    )
    jobs = {job["job"]: job for job in calls(folder)}
    assert sorted(jobs) == [0, 1, 2, 3]
    for first, second in [(0, 1), (2, 3)]:  # each batch: two processes at the same time
        a, b = jobs[first], jobs[second]
        assert a["pid"] != b["pid"]
        assert a["started"] < b["ended"] and b["started"] < a["ended"]
    assert [line["round"] for line in trial_lines(folder)] == [0, 1, 2, 3]
    study = json.loads((folder / "study.json").read_text())["config"]
    assert study["batch_size"] == 2


def test_a_job_that_raises_or_returns_nan_is_a_failed_trial_and_the_sweep_goes_on(tmp_path):
    folder, _ = sweep(tmp_path, "x=interval(-1, 1)", "fail_above=0.0", "hydra.sweeper.budget=8")
    lines = trial_lines(folder)
    assert len(lines) == 8
    for line in lines:
        if line["config"]["x"] > 0:
            assert line["status"] == "failed"
            assert line["error"] == f"ValueError: x={line['config']['x']} is above 0.0"
        else:
            assert line["status"] == "ok"
    failed = sum(line["status"] == "failed" for line in lines)
    assert 0 < failed < 8
    assert results(folder)["status_counts"]["failed"] == failed

    args = ["x=interval(-1, 1)", "returns=non_finite", "hydra.sweeper.budget=2"]
    folder, _ = sweep(tmp_path, *args, name="nan")
    assert [line["status"] for line in trial_lines(folder)] == ["failed", "failed"]
    assert "non-finite" in trial_lines(folder)[0]["error"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["returns=none"], "returned None"),
        (["returns=dict"], "set hydra.sweeper.metric"),
        (["returns=dict", "hydra.sweeper.metric=acc"], "name one of these"),
    ],
)
def test_a_return_value_that_is_no_metric_stops_the_sweep_naming_the_fix(tmp_path, args, message):
    folder, result = sweep(tmp_path, "x=interval(-1, 1)", *args, ok=False)
    assert result.returncode != 0
    assert message in result.stdout
    assert not (folder / "trials.jsonl").exists()  # not logged: a rerun asks the round again


def test_a_killed_sweep_resumes_with_exactly_its_budget_and_the_same_proposals(tmp_path):
    args = [
        "x=interval(-1, 1)",
        "n=int(interval(1, 8))",
        "sleep=0.4",
        "hydra.sweeper.tuner=bo",
        "+hydra.sweeper.options.n_startup_trials=2",
        "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.budget=8",
    ]
    whole, _ = sweep(tmp_path, *args, name="whole")
    folder = tmp_path / "killed"
    process = subprocess.Popen(
        [*sweep_command(folder), *args],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if (folder / "trials.jsonl").exists() and len(trial_lines(folder)) >= 3:
            break
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    logged_at_kill = trial_lines(folder)
    assert 3 <= len(logged_at_kill) < 8, "the sweep was not killed in the middle"
    jobs_at_kill = len(calls(folder))

    _, result = sweep(tmp_path, *args, name="killed")
    assert f"Resuming {folder}: {len(logged_at_kill)} of 8 trials done" in result.stdout
    lines = trial_lines(folder)
    assert [line["round"] for line in lines] == list(range(8))  # exactly the budget, once each
    assert [line["config"] for line in lines] == [line["config"] for line in trial_lines(whole)]
    rerun_jobs = [job["job"] for job in calls(folder)[jobs_at_kill:]]
    assert min(rerun_jobs) >= len(logged_at_kill)  # no logged trial ran again; numbers go on
    assert sorted(set(rerun_jobs)) == list(range(len(logged_at_kill), 8))

    _, again = sweep(tmp_path, *args, name="killed")  # a finished sweep is only reported
    assert "already finished (8 of 8 trials)" in again.stdout
    assert len(calls(folder)) == jobs_at_kill + len(rerun_jobs)


def test_a_search_space_file_and_another_sweep_in_the_same_folder(tmp_path):
    space_file = tmp_path / "space.yaml"
    space_file.write_text(
        "name: mine\nparameters:\n  x: {type: float, low: -1, high: 1}\n"
        "  act: {type: categorical, choices: [relu, tanh]}\n"
    )
    args = [f"hydra.sweeper.search_space={space_file}", "n=int(interval(1, 8))"]
    folder, _ = sweep(tmp_path, *args, "hydra.sweeper.budget=4")
    assert all(set(line["config"]) == {"x", "act", "n"} for line in trial_lines(folder))
    _, result = sweep(tmp_path, *args, "hydra.sweeper.budget=4", "sleep=0.01", ok=False)
    assert "differs in: " in result.stdout and "context.fixed_overrides" in result.stdout
    assert "set another hydra.sweep.dir" in result.stdout
    assert math.isfinite(results(folder)["best_value"])


def test_the_hybrid_tuner_sweeps_with_its_knobs(tmp_path):
    folder, _ = sweep(
        tmp_path,
        "x=interval(-1, 1)",
        "hydra.sweeper.tuner=hybrid",
        "hydra.sweeper.budget=3",
        "+hydra.sweeper.options.warm_start=1",
        "+hydra.sweeper.options.llm_share=0.0",
    )
    lines = trial_lines(folder)
    assert (
        lines[0]["tuner"]["why"].startswith("warm start") and "prompt_tokens" in lines[0]["tuner"]
    )
    assert [line["tuner"]["proposer"] for line in lines[1:]] == ["bo", "bo"]
    assert (
        results(folder)["tuner"] == "hybrid-SmolLM2-135M-Instruct-bo-tpe+warm_start=1+llm_share=0.0"
    )


@pytest.mark.slow  # kept out of `make test` (under 5 min); `make test-all` runs it
def test_llambo_sweeps_with_its_steps(tmp_path):
    folder, _ = sweep(
        tmp_path,
        "x=interval(-1, 1)",
        "hydra.sweeper.tuner=llambo",
        "hydra.sweeper.budget=3",
        "+hydra.sweeper.options.n_initial=1",
        "+hydra.sweeper.options.n_candidates=2",
        "+hydra.sweeper.options.min_candidates=1",
        "+hydra.sweeper.options.surrogate_samples=1",
    )
    lines = trial_lines(folder)
    assert [line["tuner"]["phase"] for line in lines] == ["warm_start", "llambo", "llambo"]
    assert all(line["tuner"]["calls_by_step"].get("candidates", 0) >= 2 for line in lines[1:])
    assert results(folder)["tuner"].startswith("llambo-SmolLM2-135M-Instruct")


def test_a_results_write_that_fails_leaves_the_previous_results_whole(tmp_path, monkeypatch):
    """optimization_results.yaml is replaced atomically: a failure while writing it (here the
    disk's fsync) leaves the previous file, never a truncated one."""
    from omegaconf import OmegaConf

    from llmhpo.integrations import hydra_sweeper

    settings = OmegaConf.create({"direction": "minimize"})
    summary = {"tuner": "random", "best_config": {"x": 0.5}, "best_metric": 0.25,
               "trials": 3, "status_counts": {"ok": 3}}  # fmt: skip
    hydra_sweeper._write_results(tmp_path, summary, settings)
    before = (tmp_path / hydra_sweeper.RESULTS_FILE).read_text()

    def failing_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        hydra_sweeper._write_results(tmp_path, {**summary, "best_metric": 0.01}, settings)
    assert (tmp_path / hydra_sweeper.RESULTS_FILE).read_text() == before
    assert yaml.safe_load(before)["best_value"] == 0.25


@pytest.mark.slow  # kept out of `make test` (under 5 min); `make test-all` runs it
def test_two_sweeps_with_smac_propose_the_same_whatever_the_hash_seed(tmp_path):
    """Two identical sweeps with tuner=smac diverged at round 3, each process hashing strings
    its own way; now they propose the same under different PYTHONHASHSEEDs."""
    proposed = []
    for hash_seed in ("1", "2"):
        folder = tmp_path / f"sweep{hash_seed}"
        result = subprocess.run(
            [*sweep_command(folder), "hydra.sweeper.tuner=smac", "hydra.sweeper.budget=5",
             "+hydra.sweeper.options.crash_cost=10.0", "x=interval(-1, 1)", "n=int(interval(1, 8))",
             "act=choice(relu, tanh)"],
            cwd=tmp_path, capture_output=True, text=True, timeout=300,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        )  # fmt: skip
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
        proposed.append([line["config"] for line in trial_lines(folder)])
    assert len(proposed[0]) == 5 and proposed[0] == proposed[1]


def test_a_sweep_resumed_after_the_apps_own_config_changed_is_refused_by_key(tmp_path):
    """The app's composed config (minus the swept keys) belongs to the study: resuming after
    its YAML changed would mix two configs' results in one study."""
    import shutil

    shutil.copytree(APP.parent, tmp_path / "app")
    app_config = tmp_path / "app" / "config.yaml"
    folder = tmp_path / "sweep"
    command = [sys.executable, str(tmp_path / "app" / "app.py"), "-m", "hydra/sweeper=llmhpo",
               f"hydra.sweep.dir={folder}", "hydra.sweeper.budget=2", "x=interval(-1, 1)"]  # fmt: skip

    def run() -> subprocess.CompletedProcess:
        return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=180)

    assert run().returncode == 0
    app_config.write_text(app_config.read_text().replace("x: 0.5", "x: 0.7"))  # swept: no matter
    assert run().returncode == 0
    app_config.write_text(app_config.read_text().replace("n: 4", "n: 30"))
    refused = run()
    assert refused.returncode != 0
    assert "differs in: context.app_config.n" in refused.stdout + refused.stderr
    assert len(trial_lines(folder)) == 2


@pytest.mark.parametrize(
    "args,message",
    [
        (["+hydra.sweeper.options.pruner=asha"], "a sweep has no pruner"),
        # 'set tuner.crash_cost' means nothing to a sweep: its key is hydra.sweeper.options.*
        (["hydra.sweeper.tuner=smac"], "set hydra.sweeper.options.crash_cost to a value"),
        (["hydra.sweeper.tuner=nope"], "tuner='nope' is not known"),
        (["hydra.sweeper.budget=0"], "budget must be a whole number >= 1"),
    ],
)
def test_a_refused_sweep_is_one_line_and_exit_status_2(tmp_path, args, message):
    """As at the CLI: one line naming the fix, no traceback, exit status 2, nothing run."""
    folder, result = sweep(tmp_path, "x=interval(-1, 1)", *args, ok=False)
    assert result.returncode == 2, result.stdout[-3000:]
    assert "Traceback" not in result.stdout and "tuner.crash_cost" not in result.stdout
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("llmhpo: error: ")]
    assert message in line
    assert not (folder / "trials.jsonl").exists()


def test_the_sweeps_llm_is_its_llm_tuners_so_another_tuner_runs_beside_it(tmp_path):
    """An app's config that sets the sweep's llm (for its default tuner=llm) can still be
    swept with tuner=bo from the command line, as examples/hydra_app says."""
    folder, _ = sweep(tmp_path, "x=interval(-1, 1)", "hydra.sweeper.llm=local",
                      "hydra.sweeper.tuner=bo", "hydra.sweeper.budget=2")  # fmt: skip
    assert [line["status"] for line in trial_lines(folder)] == ["ok", "ok"]


@pytest.mark.slow  # kept out of `make test` (under 5 min); `make test-all` runs it
def test_a_preset_with_keys_of_ones_own_reaches_the_llm(tmp_path):
    """`hydra.sweeper.llm=openai +hydra.sweeper.llm.api_base=URL` lost the preset (Hydra made
    llm {api_base: URL}); `preset` names it in the dict, and the LLM at URL is asked."""
    from tests.helpers.servers import FaultyLLMServer

    answers = ['{"x": 0.5}', '{"x": -0.5}', '{"x": 0.25}']
    with FaultyLLMServer([], answers) as server:
        folder, result = sweep(
            tmp_path, "hydra.sweeper.tuner=llm", "hydra.sweeper.budget=3", "x=interval(-1, 1)",
            "+hydra.sweeper.llm.preset=openai", f"+hydra.sweeper.llm.api_base={server.url}",
            "+hydra.sweeper.llm.model=openai/fake", "+hydra.sweeper.llm.api_key_env=null",
        )  # fmt: skip
    lines = trial_lines(folder)
    assert [line["tuner"]["model"] for line in lines] == ["openai/fake"] * 3
    assert len(server.bodies) == 3
    _, lost = sweep(tmp_path, "hydra.sweeper.tuner=llm", "x=interval(-1, 1)", "hydra.sweeper.llm=openai",
                    f"+hydra.sweeper.llm.api_base={server.url}", name="lost", ok=False)  # fmt: skip
    assert "+hydra.sweeper.llm.preset=openai" in lost.stdout
