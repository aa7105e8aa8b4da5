"""The Python API (llmhpo.Study): the CLI's loop and trial log, driven by the caller's code."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import llmhpo
from llmhpo.errors import ConfigError
from llmhpo.objectives.toy import get_toy_function
from llmhpo.space import SearchSpace, SearchSpaceError
from llmhpo.store.folder import SUMMARY_FILE
from llmhpo.study import TrialOrderError
from tests.helpers.config import CONF, REPO
from tests.helpers.runs import run_cli, trial_lines

BRANIN = get_toy_function("branin")
TOY_SPACE = {
    "x1": {"type": "float", "low": -5.0, "high": 10.0},
    "x2": {"type": "float", "low": 0.0, "high": 15.0},
}


def branin(config):
    return float(BRANIN(config["x1"], config["x2"]))


@pytest.mark.parametrize(
    ("tuner", "options"),
    [
        ("random", {}),
        ("bo", {"sampler": "tpe", "n_startup_trials": 2}),
        ("bo_gp", {}),
        ("smac", {"crash_cost": 1000.0}),
        ("fixed", {"config": {"x1": 1.0, "x2": 2.0}}),
    ],
)
def test_each_tuner_writes_the_clis_trial_log_format(tuner, options, tmp_path):
    study = llmhpo.Study(TOY_SPACE, tuner, budget=4, seed=3, folder=tmp_path / "api", **options)
    summary = study.optimize(branin)
    lines = trial_lines(tmp_path / "api")
    assert len(lines) == (1 if tuner == "fixed" else 4) == summary["trials"]
    cli = run_cli(["objective=toy", "tuner=random", "budget=1"], cwd=tmp_path)
    assert cli.returncode == 0, cli.stdout[-2000:]
    [cli_folder] = [p.parent for p in (tmp_path / "outputs").glob("*/trials.jsonl")]
    assert set(lines[0]) == set(trial_lines(cli_folder)[0])  # the same record, key for key
    assert set(summary) >= set(json.loads((cli_folder / SUMMARY_FILE).read_text()))
    assert study.best_value == min(line["metrics"]["metric"] for line in lines)


def test_ask_and_tell_by_hand_and_maximize(tmp_path):
    study = llmhpo.Study(
        TOY_SPACE, "random", budget=3, folder=tmp_path, direction="maximize", metric="accuracy"
    )
    scores = []
    while (trial := study.ask()) is not None:
        scores.append(-branin(trial.config))
        study.tell(trial, scores[-1])
    summary = study.finish()
    assert study.best_value == max(scores) == summary["best_metric"]
    assert summary["best_value"] == -max(scores)  # what the tuner minimised
    assert summary["direction"] == "maximize"


def test_a_failed_trial_is_logged_and_the_study_goes_on(tmp_path):
    study = llmhpo.Study(TOY_SPACE, "random", budget=3, folder=tmp_path)
    calls = []

    def flaky(config):
        calls.append(config)
        if len(calls) == 2:
            raise RuntimeError("out of memory")
        return branin(config)

    summary = study.optimize(flaky)
    assert [line["status"] for line in trial_lines(tmp_path)] == ["ok", "failed", "ok"]
    assert trial_lines(tmp_path)[1]["error"] == "RuntimeError: out of memory"
    assert summary["status_counts"] == {"ok": 2, "failed": 1, "invalid": 0, "pruned": 0}


def test_two_asks_then_tells_and_a_stranger_trial_are_clear_errors(tmp_path):
    study = llmhpo.Study(TOY_SPACE, "random", budget=3, folder=tmp_path)
    first = study.ask()
    with pytest.raises(TrialOrderError, match="trial 0 was asked and not told yet"):
        study.ask()
    other = llmhpo.Study(TOY_SPACE, "random", budget=3, folder=tmp_path / "other").ask()
    with pytest.raises(TrialOrderError, match="waiting for trial 0"):
        study.tell(other, 1.0)
    study.tell(first, 1.0)
    with pytest.raises(TrialOrderError, match="waiting for no trial"):
        study.tell(first, 1.0)  # told twice
    with pytest.raises(ConfigError, match="needs the trial's value"):
        study.tell(study.ask())


def test_a_space_from_a_dict_a_yaml_file_or_conf_is_the_same(tmp_path):
    from_dict = SearchSpace.from_dict(
        {
            "lr": {"type": "float", "low": 1e-5, "high": 0.1, "log": True},
            "act": {"type": "categorical", "choices": ["relu", "tanh"]},
        }
    )
    (tmp_path / "mine.yaml").write_text(
        "lr: {type: float, low: 1.0e-5, high: 0.1, log: true}\nact: {type: categorical, choices: [relu, tanh]}\n"
    )
    assert (
        SearchSpace.from_yaml(tmp_path / "mine.yaml").to_config()["parameters"]
        == from_dict.to_config()["parameters"]
    )
    shipped = SearchSpace.from_yaml(CONF / "search_space" / "constrained.yaml")
    assert SearchSpace.from_config(shipped.to_config()).to_config() == shipped.to_config()
    with pytest.raises(SearchSpaceError, match="unknown type 'floot'"):
        SearchSpace.from_dict({"lr": {"type": "floot"}})


@pytest.mark.parametrize(
    ("args", "options", "why"),
    [
        (("svm",), {}, r"tuner='svm' is not known; choose one of \['bo', 'bo_gp'"),
        (("bo",), {"samplr": "gp"}, "samplr"),
        (("random",), {"llm": "local"}, "options of the tuners that ask an LLM"),
        (("random",), {"direction": "up"}, "direction must be one of"),
    ],
)
def test_bad_arguments_are_named(args, options, why, tmp_path):
    with pytest.raises(ConfigError, match=why):
        llmhpo.Study(TOY_SPACE, *args, folder=tmp_path, **options)


def test_another_study_in_the_same_folder_is_refused(tmp_path):
    llmhpo.Study(TOY_SPACE, "random", budget=2, folder=tmp_path).optimize(branin)
    with pytest.raises(Exception, match=r"different configuration \(differs in: seed\)"):
        llmhpo.Study(TOY_SPACE, "random", budget=2, seed=1, folder=tmp_path)


def test_the_embedded_llm_tunes_through_the_api(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the LLM's cache folder is relative to the working directory
    study = llmhpo.Study(
        TOY_SPACE, "llm", llm="local", budget=2, folder=tmp_path / "llm",
        task_description="a 2-D test function", metric="loss", max_attempts=2,
    )  # fmt: skip
    study.optimize(branin)
    lines = trial_lines(tmp_path / "llm")
    assert [line["status"] for line in lines] == ["ok", "ok"]
    assert (
        lines[0]["tuner"]["model"] == "SmolLM2-135M-Instruct" and lines[0]["tuner"]["attempts"] >= 1
    )


TERSE_TUNER = """
from llmhpo.tuners.llm import LLMTuner


class TerseLLMTuner(LLMTuner):
    \"\"\"The paper's tuner with one answer a round: an LLM tuner of the caller's own.\"\"\"

    def __init__(self, space, seed, llm, prompt, budget, **context):
        super().__init__(space, seed, llm, prompt, budget, max_attempts=1, **context)
"""
TERSE_YAML = """# @package _global_
defaults:
  - /llm: local
  - /prompt: compressed

tuner:
  _target_: terse_tuner.TerseLLMTuner
  name: terse-${llm.model}
  budget: ${budget}
"""


@pytest.mark.parametrize("door", ["api", "cli"])
def test_an_llm_tuner_of_ones_own_is_given_the_studys_llm_by_its_yaml_alone(
    door, tmp_path, monkeypatch
):
    (tmp_path / "terse_tuner.py").write_text(TERSE_TUNER)
    (tmp_path / "conf" / "tuner").mkdir(parents=True)
    (tmp_path / "conf" / "tuner" / "terse.yaml").write_text(TERSE_YAML)
    monkeypatch.chdir(tmp_path)
    if door == "api":
        monkeypatch.syspath_prepend(str(tmp_path))
        folder = tmp_path / "terse"
        study = llmhpo.Study(TOY_SPACE, "terse", llm="local", budget=2, folder=folder,
                             config_dir=tmp_path / "conf", metric="loss")  # fmt: skip
        study.optimize(branin)
    else:
        command = ["--config-dir", "conf", "objective=toy", "tuner=terse", "budget=2"]
        result = run_cli(command, tmp_path, timeout=300, env={"PYTHONPATH": str(tmp_path)})
        assert result.returncode == 0, result.stdout[-3000:]
        [folder] = (tmp_path / "outputs").glob("toy-branin_terse-*")
    lines = trial_lines(folder)
    assert [line["tuner"]["model"] for line in lines] == ["SmolLM2-135M-Instruct"] * 2
    assert [line["tuner"]["attempts"] for line in lines] == [1, 1]  # its own max_attempts


SCRIPT = textwrap.dedent(
    """
    import sys, time
    import llmhpo
    from llmhpo.objectives.toy import get_toy_function

    f = get_toy_function("branin")
    study = llmhpo.Study({TOY_SPACE!r}, "bo", budget=6, seed=0, folder=sys.argv[1])
    def slow(config):
        time.sleep(float(sys.argv[2]))
        return float(f(config["x1"], config["x2"]))
    study.optimize(slow)
    """
)


def test_a_killed_script_resumes_when_run_again(tmp_path):
    script = tmp_path / "tune.py"
    script.write_text(SCRIPT.replace("{TOY_SPACE!r}", repr(TOY_SPACE)))
    folder = tmp_path / "study"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, str(script), str(folder), "0.5"], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (folder / "trials.jsonl").exists() and len(trial_lines(folder)) >= 2:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = trial_lines(folder)
    assert 2 <= len(done) < 6
    subprocess.run(
        [sys.executable, str(script), str(folder), "0"], env=env, check=True, timeout=120
    )
    resumed = trial_lines(folder)
    assert len(resumed) == 6 and resumed[: len(done)] == done

    fresh = tmp_path / "fresh"  # an uninterrupted study proposes the same configurations
    subprocess.run([sys.executable, str(script), str(fresh), "0"], env=env, check=True, timeout=120)
    assert [r["config"] for r in trial_lines(fresh)] == [r["config"] for r in resumed]


def test_aggregate_reads_an_api_folder(tmp_path):
    llmhpo.Study(
        TOY_SPACE, "random", budget=3, folder=tmp_path / "runs" / "mine", name="branin-mine"
    ).optimize(branin)
    out = tmp_path / "results"
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "aggregate.py"), str(tmp_path / "runs"), "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "| branin-mine | random |" in (out / "best_at_k.md").read_text()


@pytest.mark.slow  # kept out of `make test` (under 5 min); `make test-all` runs it
def test_an_llm_given_as_a_dict_is_reached_over_http(llama_server, tmp_path, monkeypatch):
    """A litellm provider by its keys (here llama.cpp's OpenAI-compatible server on 127.0.0.1);
    the key comes from the environment and never reaches the folder."""
    secret = "sk-llmhpo-api-test-SECRET"
    monkeypatch.setenv("LLMHPO_API_TEST_KEY", secret)
    monkeypatch.chdir(tmp_path)
    llm = {
        "provider": "litellm",
        "model": "openai/smollm2",
        "api_base": llama_server,
        "api_key_env": "LLMHPO_API_TEST_KEY",
    }
    study = llmhpo.Study(
        TOY_SPACE, "llm", llm=llm, budget=2, folder=tmp_path / "http", on_invalid="random"
    )
    study.optimize(branin)
    lines = trial_lines(tmp_path / "http")
    assert [line["status"] for line in lines] == ["ok", "ok"]
    assert lines[0]["tuner"]["model"] == "openai/smollm2"
    for path in (tmp_path / "http").rglob("*"):
        assert not path.is_file() or secret.encode() not in path.read_bytes()


@pytest.mark.parametrize("door", ["api", "sampler"])
def test_an_llm_dict_without_its_provider_is_refused_not_run_as_the_embedded_model(door, tmp_path):
    """{"model": "gpt-4o"} ran SmolLM2 labelled llm-gpt-4o: the aggregation would have called
    the embedded model's results GPT-4o's."""
    with pytest.raises(ConfigError, match="does not say its provider"):
        if door == "api":
            llmhpo.Study(TOY_SPACE, "llm", llm={"model": "gpt-4o"}, folder=tmp_path / "s")
        else:
            from llmhpo.integrations.optuna import LLMSampler

            LLMSampler(llm={"model": "gpt-4o"})
    assert not (tmp_path / "s").exists()


def test_a_model_name_on_the_embedded_model_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="the model run in-process is the embedded"):
        llmhpo.Study(
            TOY_SPACE, "llm", llm={"provider": "local", "model": "gpt-4o"}, folder=tmp_path
        )
    result = run_cli(
        ["objective=toy", "tuner=llm", "llm=local", "llm.model=gpt-4o"], tmp_path, split=True
    )
    assert result.returncode == 2 and "the model run in-process is the embedded" in result.stderr


def test_a_refused_study_leaves_its_folder_free_for_the_corrected_one(tmp_path):
    folder = tmp_path / "study"
    with pytest.raises(ConfigError, match="n_startup_trials must be >= 1"):
        llmhpo.Study(TOY_SPACE, "bo", n_startup_trials=0, folder=folder)
    assert not folder.exists()
    llmhpo.Study(TOY_SPACE, "bo", n_startup_trials=2, budget=3, folder=folder).optimize(branin)
    assert len(trial_lines(folder)) == 3


def test_a_folder_that_is_a_file_is_named(tmp_path):
    (tmp_path / "taken").write_text("not a folder")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        llmhpo.Study(TOY_SPACE, "random", folder=tmp_path / "taken")


def test_waiting_on_a_folder_this_process_holds_says_finish_instead_of_hanging(tmp_path):
    """A study left open (an exception, Ctrl-C in a notebook) holds its folder; on_busy="wait"
    on it would wait for this very process forever. Run in a subprocess: a hang fails it."""
    script = textwrap.dedent(
        f"""
        import llmhpo
        space = {TOY_SPACE!r}
        first = llmhpo.Study(space, "random", budget=3, folder={str(tmp_path / "s")!r})
        first.ask()  # and never finished
        try:
            llmhpo.Study(space, "random", budget=3, folder={str(tmp_path / "s")!r}, on_busy="wait")
        except llmhpo.errors.LlmhpoError as error:
            print(error)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "held by this process" in result.stdout and "finish()" in result.stdout


@pytest.mark.parametrize("value", [True, "0.5", None, [0.5]])
def test_tell_refuses_a_value_that_is_no_number(value, tmp_path):
    study = llmhpo.Study(TOY_SPACE, "random", budget=2, folder=tmp_path)
    trial = study.ask()
    with pytest.raises(ConfigError, match="tell"):
        study.tell(trial, value)
    study.tell(trial, 0.5)  # the trial is still open: a number is taken
    assert study.trials[0].metrics["metric"] == 0.5


def test_a_space_in_another_order_does_not_resume_the_study(tmp_path):
    """The fingerprint sorts keys, but random proposals follow the space's order: the same
    parameters reordered would resume into other proposals than an uninterrupted study's."""
    study = llmhpo.Study(TOY_SPACE, "random", budget=4, folder=tmp_path)
    for _ in range(2):
        trial = study.ask()
        study.tell(trial, branin(trial.config))
    study.finish()
    reordered = dict(reversed(list(TOY_SPACE.items())))
    with pytest.raises(
        ConfigError, match=r"in another order \(\['x1', 'x2'\]; now \['x2', 'x1'\]\)"
    ):
        llmhpo.Study(reordered, "random", budget=4, folder=tmp_path)
    llmhpo.Study(TOY_SPACE, "random", budget=4, folder=tmp_path).optimize(
        branin
    )  # as before: resumes
    assert len(trial_lines(tmp_path)) == 4


def test_a_hint_names_the_key_as_the_api_spells_it(tmp_path):
    """The CLI's `tuner.crash_cost` is the API's keyword `crash_cost`, `tuner.on_invalid=random`
    its `on_invalid='random'`."""
    with pytest.raises(ConfigError) as error:
        llmhpo.Study(TOY_SPACE, "smac", folder=tmp_path / "smac")
    assert "set crash_cost" in str(error.value) and "tuner." not in str(error.value)
    with pytest.raises(ConfigError) as error:
        llmhpo.Study(TOY_SPACE, "bo", n_startup_trials="abc", folder=tmp_path / "bo")
    assert str(error.value) == "n_startup_trials must be int, got 'abc'"


def test_the_message_of_a_study_stopped_by_its_tuner_names_api_keywords(tmp_path):
    from llmhpo.errors import LlmhpoError
    from tests.helpers.servers import FaultyLLMServer

    with FaultyLLMServer([], ["I would try a small step."] * 3) as server:
        llm = {"provider": "litellm", "model": "openai/fake", "api_base": server.url,
               "api_key_env": None, "cache": False}  # fmt: skip
        study = llmhpo.Study(
            TOY_SPACE, "llm", llm=llm, on_invalid="fail", budget=2, folder=tmp_path
        )
        with pytest.raises(LlmhpoError) as error:
            study.optimize(branin)
    assert "set on_invalid='random'" in str(error.value) and "a larger max_attempts" in str(
        error.value
    )
    assert "tuner." not in str(error.value)


def test_the_fixed_tuner_runs_a_configuration_of_the_callers_own_space(tmp_path):
    space = {"lr": {"type": "float", "low": 1e-5, "high": 0.1, "log": True}}
    study = llmhpo.Study(space, "fixed", folder=tmp_path, config={"lr": 0.01})
    assert study.optimize(lambda config: config["lr"])["best_config"] == {"lr": 0.01}
