"""The litellm HTTP path against real servers on 127.0.0.1."""

import json
import os
import subprocess
import sys

import pytest

from llmhpo.llm.clients import LLMError, embedded_model_path
from llmhpo.objectives.toy import ToyObjective
from llmhpo.study import Study
from llmhpo.trial_log import TrialLog
from llmhpo.tuners.llm import LLMTuner
from tests.llm_servers import FaultyLLMServer, start_llama_server


@pytest.fixture(scope="module")
def llama_server():
    process, url = start_llama_server(embedded_model_path())
    yield url
    process.terminate()
    process.wait(timeout=10)


def remote(url, **overrides):
    return {
        "provider": "litellm",
        "model": "openai/smollm2",
        "api_base": url,
        "api_key_env": None,
        "timeout": 30,
        "max_retries": 2,
        "backoff": 0.1,
        "cache": False,
        **overrides,
    }


def test_study_through_the_llama_cpp_server(llama_server, tmp_path):
    objective = ToyObjective("branin")
    tuner = LLMTuner(
        objective.search_space,
        0,
        remote(llama_server),
        {"format": "compressed"},
        budget=2,
        task=objective.task,
        on_invalid="random",
    )
    Study(tmp_path, objective.search_space, tuner, objective, budget=2).run()
    records = TrialLog(tmp_path / "trials.jsonl").read()
    assert len(records) == 2
    first = records[0]
    assert first.status == "ok" and first.tuner.get("fallback") is None
    assert first.tuner["model"] == "openai/smollm2"
    assert first.tuner["prompt_tokens"] > 100 and first.tuner["completion_tokens"] > 0
    assert json.loads(first.tuner["answer"]) == first.proposed  # schema-constrained by the server


def test_retries_ride_over_faults_and_no_round_is_lost(tmp_path):
    answers = ['{"x1": 1.5, "x2": 2.5}', '{"x1": -2.0, "x2": 11.0}']
    with FaultyLLMServer(["429", "500", "hang", "malformed"], answers, hang_seconds=3) as server:
        objective = ToyObjective("branin")
        llm = remote(
            server.url, model="openai/fake", timeout=1, max_retries=5, response_format="none"
        )
        tuner = LLMTuner(
            objective.search_space, 0, llm, {"format": "compressed"}, budget=2, task=objective.task
        )
        summary = Study(tmp_path, objective.search_space, tuner, objective, budget=2).run()
    first, second = TrialLog(tmp_path / "trials.jsonl").read()
    assert [r.status for r in (first, second)] == ["ok", "ok"]
    assert first.config == {"x1": 1.5, "x2": 2.5} and second.config == {"x1": -2.0, "x2": 11.0}
    served = [behaviour for _, behaviour in server.requests]
    assert served == ["429", "500", "hang", "malformed", "ok", "ok"]
    retries = first.tuner["transport_retries"]
    assert len(retries) == 4
    assert "RateLimitError" in retries[0] and "(waited 1.0s)" in retries[0]  # Retry-After honoured
    assert server.requests[1][0] - server.requests[0][0] >= 1.0
    assert "Timeout" in retries[2]
    assert summary["status_counts"]["ok"] == 2


def test_a_dead_server_stops_the_study_with_a_clear_error_and_keeps_the_log(tmp_path):
    with FaultyLLMServer(["ok", "500", "500", "500"], ['{"x1": 1.5, "x2": 2.5}']) as server:
        objective = ToyObjective("branin")
        tuner = LLMTuner(
            objective.search_space,
            0,
            remote(server.url, max_retries=2),
            {},
            budget=3,
            task=objective.task,
        )
        with pytest.raises(
            LLMError, match=r"did not answer after 3 tries .*run the same command again"
        ):
            Study(tmp_path, objective.search_space, tuner, objective, budget=3).run()
    assert len(TrialLog(tmp_path / "trials.jsonl").read()) == 1


def test_missing_key_fails_before_training_and_names_the_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "llmhpo.run",
            "objective=train",
            "dataset=digits",
            "tuner=llm",
            "llm=openai",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "needs an API key in the environment variable OPENAI_API_KEY" in result.stderr
    assert "llm=local" in result.stderr
    assert not list(tmp_path.glob("outputs/*/trials.jsonl"))


def test_the_api_key_leaves_no_trace_in_the_run_folder(llama_server, tmp_path):
    secret = "sk-llmhpo-test-0123456789abcdef-SECRET"
    env = {**os.environ, "LLMHPO_TEST_KEY": secret, "HYDRA_FULL_ERROR": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "llmhpo.run",
            "objective=toy",
            "tuner=llm",
            "llm=openai",
            "llm.model=openai/smollm2",
            f"llm.api_base={llama_server}",
            "llm.api_key_env=LLMHPO_TEST_KEY",
            "budget=2",
            "tuner.on_invalid=random",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "trials.jsonl" for p in files)
    assert any(".cache" in p.parts for p in files)  # the LLM cache was written, and is checked too
    for path in files:
        assert secret.encode() not in path.read_bytes(), f"the key leaked into {path}"
    assert secret not in result.stdout + result.stderr
