"""The litellm HTTP path against real servers on 127.0.0.1."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import llmhpo
from llmhpo.errors import ConfigError
from llmhpo.llm.base import MAX_ANSWER_CHARS, LLMError
from llmhpo.llm.credentials import redact
from llmhpo.objectives.toy import ToyObjective
from llmhpo.store.trial_log import TrialLog
from llmhpo.study import StudyLoop
from llmhpo.tuners.llm import LLMTuner
from tests.helpers.runs import assert_no_trace, run_cli
from tests.helpers.servers import FaultyLLMServer


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


@pytest.mark.slow
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
    StudyLoop(tmp_path, objective.search_space, tuner, objective, budget=2).run()
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
        summary = StudyLoop(tmp_path, objective.search_space, tuner, objective, budget=2).run()
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
            StudyLoop(tmp_path, objective.search_space, tuner, objective, budget=3).run()
    assert len(TrialLog(tmp_path / "trials.jsonl").read()) == 1


@pytest.mark.slow
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


def run_with_key(server: FaultyLLMServer, secret: str, tmp_path, *extra: str):
    """A 2-round toy study of the CLI with `server` as its remote LLM, reached with the key
    `secret` from the environment; stdout and stderr apart."""
    args = ["objective=toy", "tuner=llm", "llm=openai", "llm.model=openai/fake",
            f"llm.api_base={server.url}", "llm.api_key_env=LLMHPO_TEST_KEY", "budget=2", *extra]  # fmt: skip
    return run_cli(args, tmp_path, timeout=300, split=True, env={"LLMHPO_TEST_KEY": secret})


def test_a_key_echoed_in_a_providers_error_text_reaches_no_file_and_no_output(tmp_path):
    """A careless proxy repeats the Authorization header in a 500 (retried) and a 401 (fatal)."""
    secret = "sk-llmhpo-test-echoed-0123456789abcdef"
    answers = ['{"x1": 1.5, "x2": 2.5}']
    with FaultyLLMServer(["500-echo", "ok", "401-echo"], answers) as server:
        result = run_with_key(server, secret, tmp_path, "llm.max_retries=2", "llm.backoff=0.1")
    sent = {key.lower(): value for key, value in server.headers[0].items()}
    assert sent["authorization"] == f"Bearer {secret}"  # the key was sent...
    assert [behaviour for _, behaviour in server.requests] == ["500-echo", "ok", "401-echo"]
    assert result.returncode != 0  # ...the 401 ends the study, with the provider's message
    assert "upstream rejected request with header Authorization: Bearer [REDACTED]" in (
        result.stderr
    )
    (log_path,) = tmp_path.glob("outputs/*/trials.jsonl")
    (first,) = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert "Authorization: Bearer [REDACTED]" in first["tuner"]["transport_retries"][0]
    files = assert_no_trace(secret, tmp_path, result)
    assert any(p.name == "run.log" for p in files) and any(".cache" in p.parts for p in files)


def test_a_key_echoed_in_a_200_answer_reaches_no_file_and_no_output(tmp_path):
    """The answer itself repeats the Authorization header: it is provider text like an error's,
    and is redacted before the trial log, the cache, run.log or the terminal see it. The key
    is sent in every request's header, so this also holds that a key read from the
    environment reaches no file of the run folder and no output (.hydra/ included)."""
    secret = "sk-llmhpo-test-echoed-in-answer-0123456789"
    answers = ['{"x1": 1.5, "x2": 2.5}', '{"x1": 1.5, "x2": 2.5}']
    with FaultyLLMServer(["200-echo", "200-echo", "200-echo", "200-echo"], answers) as server:
        result = run_with_key(server, secret, tmp_path, "tuner.on_invalid=random")
    assert result.returncode == 0, result.stderr[-3000:]
    sent = {value for h in server.headers for k, value in h.items() if k.lower() == "authorization"}
    assert sent == {f"Bearer {secret}"}  # the key went to the server with every request
    (log_path,) = tmp_path.glob("outputs/*/trials.jsonl")
    assert "Authorization: Bearer [REDACTED]" in log_path.read_text()  # the answers are logged
    files = assert_no_trace(secret, tmp_path, result)
    assert any(p.name == "run.log" for p in files) and any(".cache" in p.parts for p in files)
    assert any(".hydra" in p.parts for p in files)


@pytest.mark.parametrize("door", ["cli", "api"])
def test_a_key_given_as_the_variables_name_is_refused_without_being_shown(tmp_path, door):
    secret = "sk-live-pasted-0123456789abcdef"
    if door == "cli":
        result = run_cli(
            ["-m", "objective=toy", "tuner=llm", f"llm.api_key_env={secret}", "budget=2"],
            tmp_path,
            split=True,
        )
        assert result.returncode == 2 and "llm.api_key_env must be the name" in result.stderr
        assert_no_trace(secret, tmp_path, result)
        assert not (tmp_path / "outputs").exists()  # refused before Hydra wrote anything
        return
    with pytest.raises(ConfigError) as error:
        llmhpo.Study({"x": {"type": "float", "low": 0, "high": 1}}, tuner="llm",
              llm={"provider": "litellm", "model": "openai/gpt-4o", "api_key_env": secret},
              folder=tmp_path / "study")  # fmt: skip
    assert "the llm dict's 'api_key_env' must be the name" in str(
        error.value
    )  # as the API spells it
    assert secret not in str(error.value) and not (tmp_path / "study").exists()


def test_redact_removes_known_keys_and_credentials_in_header_or_parameter_form():
    text = (
        "Authorization: Bearer sk-abc123, 'authorization': 'Basic dXNlcjpwYXNz', "
        "x-api-key: k-999; api_key=zzz and the known secret s3cr3t-value"
    )
    redacted = redact(text, ["s3cr3t-value"])
    for secret in ("sk-abc123", "dXNlcjpwYXNz", "k-999", "zzz", "s3cr3t-value"):
        assert secret not in redacted
    assert "Authorization: Bearer [REDACTED]" in redacted
    assert redact("a plain message about a timeout", []) == "a plain message about a timeout"


@pytest.mark.parametrize("prompt_format", ["compressed", "chat"])
def test_requests_carry_the_configured_decoding_and_a_retry_carries_the_reason(
    tmp_path, prompt_format
):
    answers = ["I would try a small step.", '{"x1": 1.5, "x2": 2.5}']
    with FaultyLLMServer([], answers) as server:
        objective = ToyObjective("branin")
        llm = remote(
            server.url,
            model="openai/fake",
            response_format="none",
            temperature=0.0,
            seed=5,
            max_tokens=123,
        )
        tuner = LLMTuner(
            objective.search_space,
            0,
            llm,
            {"format": prompt_format},
            budget=1,
            task=objective.task,
            retry_temperature=0.7,
        )
        StudyLoop(tmp_path, objective.search_space, tuner, objective, budget=1).run()
    first, retry = server.bodies
    assert (first["temperature"], first["seed"], first["max_tokens"]) == (0.0, 5, 123)
    assert retry["temperature"] == 0.7 and retry["max_tokens"] == 123
    assert retry["seed"] == int(np.random.default_rng([0, 0]).integers(2**31 - 1))
    reason = "no JSON object found in the answer 'I would try a small step.'"
    if prompt_format == "compressed":
        assert reason not in first["messages"][-1]["content"]
        assert (
            f"We got the following error message with the previous proposal: {reason}"
            in retry["messages"][-1]["content"]
        )
    else:
        assert retry["messages"][-2] == {"role": "assistant", "content": answers[0]}
        assert retry["messages"][-1]["content"].startswith(reason)
    (record,) = TrialLog(tmp_path / "trials.jsonl").read()
    assert record.status == "ok" and record.tuner["attempts"] == 2


def test_an_answer_beyond_the_limit_is_cut_on_arrival_rejected_and_stored_bounded(tmp_path):
    huge = '{"x1": 1.5, "x2": 2.5}' + " and more" * 100_000  # a server that ignores max_tokens
    with FaultyLLMServer([], [huge, '{"x1": -2.0, "x2": 11.0}']) as server:
        objective = ToyObjective("branin")
        llm = remote(
            server.url,
            model="openai/fake",
            response_format="none",
            cache=True,
            cache_dir=str(tmp_path / "cache"),
        )
        tuner = LLMTuner(objective.search_space, 0, llm, {}, budget=1, task=objective.task)
        StudyLoop(tmp_path, objective.search_space, tuner, objective, budget=1).run()
    (record,) = TrialLog(tmp_path / "trials.jsonl").read()
    assert record.config == {"x1": -2.0, "x2": 11.0}
    assert record.tuner["rejections"] == [
        f"the answer was {len(huge)} characters long, over the limit of {MAX_ANSWER_CHARS}; "
        "answer with one short JSON object"
    ]
    assert len(record.tuner["answers"][0]) == MAX_ANSWER_CHARS
    assert (tmp_path / "trials.jsonl").stat().st_size < 3 * MAX_ANSWER_CHARS
    for entry in (tmp_path / "cache").rglob("*.json"):
        assert entry.stat().st_size < 3 * MAX_ANSWER_CHARS


def test_a_round_without_a_valid_answer_falls_back_to_random_marked_and_counted(tmp_path):
    prose = ["Let me think.", "A smaller step, perhaps.", "Hard to say."]
    with FaultyLLMServer([], prose) as server:
        objective = ToyObjective("branin")
        llm = remote(server.url, model="openai/fake", response_format="none")
        tuner = LLMTuner(
            objective.search_space, 0, llm, {}, budget=1, task=objective.task, on_invalid="random"
        )
        summary = StudyLoop(tmp_path, objective.search_space, tuner, objective, budget=1).run()
    (record,) = TrialLog(tmp_path / "trials.jsonl").read()
    assert record.status == "ok" and record.tuner["fallback"] == "random"
    assert record.tuner["answer"] is None and record.tuner["answers"] == prose
    assert objective.search_space.validate(record.config) == record.config
    assert "no valid proposal in 3 attempts" in record.tuner["invalid_reason"]
    assert summary["llm"]["random_fallbacks"] == 1 and summary["llm"]["first_try_valid"] == 0
