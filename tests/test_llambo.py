"""tuner=llambo against a scripted OpenAI-compatible server on 127.0.0.1 that answers each
request by what it asks: the zero-shot warm start, then in every round the candidate sampler,
the surrogate and the choice by expected improvement, in that order, with the paper's
prompts and decoding. The embedded model runs it through the tuner contract test."""

import json
import re

import pytest

import llmhpo
from llmhpo.tuners.llambo import _read_score, expected_improvement, read_pairs
from tests.helpers.runs import trial_lines
from tests.helpers.servers import RespondingLLMServer

SPACE = {
    "x1": {"type": "float", "low": -5.0, "high": 5.0},
    "x2": {"type": "float", "low": -5.0, "high": 5.0},
    "act": {"type": "categorical", "choices": ["relu", "tanh"]},
}
WARM = [{"x1": -3.0, "x2": 3.0, "act": "relu"}, {"x1": 3.0, "x2": -3.0, "act": "tanh"},
        {"x1": 0.0, "x2": 0.0, "act": "relu"}]  # fmt: skip
LLM = {"provider": "litellm", "model": "openai/fake", "api_key_env": None, "cache": False,
       "response_format": "none"}  # fmt: skip
OPTIONS = {"n_initial": 3, "n_candidates": 4, "n_templates": 2, "min_candidates": 2,
           "surrogate_samples": 3}  # fmt: skip
QUERY = re.compile(r"Hyperparameter configuration: (.*)\s*Performance:\s*$")


def queried(prompt: str) -> dict:
    """The surrogate prompt's last configuration, 'x1 is 0.5000, act is relu, ...'."""
    pairs = (pair.split(" is ") for pair in QUERY.search(prompt).group(1).split(", "))
    return {name: value if name == "act" else float(value) for name, value in pairs}


def loss(config: dict) -> float:
    return (config["x1"] - 1.0) ** 2 + (config["x2"] + 2.0) ** 2 + (config["act"] == "tanh")


def kind(body: dict) -> str:
    prompt = body["messages"][-1]["content"]
    if "diverse and efficient configuration suggestions" in prompt:
        return "warm_start"
    if "Recommend a configuration that can achieve the target performance" in prompt:
        return "candidates"
    assert "Your response should only contain the predicted" in prompt
    return "surrogate"


class LLAMBOScript:
    """Answers as a model following the prompts would: the warm start's three
    configurations; per candidate request, in turn a new configuration, one out of range,
    another new one, and the first again (a duplicate); per surrogate request, the
    candidate's true loss with a spread of 0.1."""

    def __init__(self, honour_n: bool = True):
        self.honour_n = honour_n
        self.candidates = 0

    def __call__(self, body: dict) -> list[str]:
        n = body.get("n", 1) if self.honour_n else 1
        step = kind(body)
        if step == "warm_start":
            return [json.dumps(WARM)]
        if step == "candidates":
            return [self._candidate() for _ in range(n)]
        true = loss(queried(body["messages"][-1]["content"]))
        return [f"## {true + spread:.6f} ##" for spread in (-0.1, 0.0, 0.1)[:n]]

    def _candidate(self) -> str:
        k, self.candidates = self.candidates, self.candidates + 1
        base = k - k % 4
        x1, x2 = -4.0 + 0.37 * base, 4.0 - 0.53 * base
        if k % 4 == 1:
            return "## x1: 9.0000, x2: 0.0000, act: relu ##"  # out of range
        if k % 4 == 2:
            return f"## x1: {x1 + 0.1:.4f}, x2: {x2 - 0.2:.4f}, act: tanh ##"
        return f"## x1: {x1:.4f}, x2: {x2:.4f}, act: relu ##"  # k % 4 == 3: a duplicate


def run(tmp_path, script: LLAMBOScript, budget: int = 6) -> RespondingLLMServer:
    with RespondingLLMServer(script) as server:
        study = llmhpo.Study(SPACE, "llambo", llm={**LLM, "api_base": server.url}, budget=budget,
                             folder=tmp_path / "s", **OPTIONS)  # fmt: skip
        study.optimize(loss)
    return server


def test_llambo_samples_candidates_then_scores_them_then_picks_by_expected_improvement(
    tmp_path,
):
    server = run(tmp_path, LLAMBOScript())
    lines = trial_lines(tmp_path / "s")
    kinds = [kind(body) for body in server.bodies]
    # The warm start once; then per round: 2 candidate prompts (n=2 each), then the surrogate
    # for each of the 2 valid new candidates under each of the 2 templates (n=3 each).
    per_round = ["candidates"] * 2 + ["surrogate"] * 4
    assert kinds == ["warm_start"] + per_round * 3
    assert [line["config"] for line in lines[:3]] == WARM
    assert [line["tuner"]["phase"] for line in lines] == ["warm_start"] * 3 + ["llambo"] * 3
    bodies = server.bodies[1:]
    assert {(b["n"], b["temperature"], b["max_tokens"]) for b in bodies[:2]} == {(2, 0.8, 500)}
    assert {(b["n"], b["temperature"], b["max_tokens"]) for b in bodies[2:6]} == {(3, 0.7, 16)}

    for r, line in enumerate(lines[3:], start=3):
        info = line["tuner"]
        candidates = [c["config"] for c in info["candidates"]]
        assert len(candidates) == 2 and all(c["x1"] != 9.0 for c in candidates)
        assert any("'x1' is 9" in why for why in info["rejections"])  # range-checked
        assert any("was evaluated or proposed" in why for why in info["rejections"])  # dedup
        # The surrogate's belief is the mean and spread of its predictions, and the candidate
        # with the highest expected improvement over the best so far is evaluated.
        best = min(earlier["value"] for earlier in lines[:r])
        for c in info["candidates"]:
            assert c["mean"] == pytest.approx(loss(c["config"]))
            assert c["std"] == pytest.approx((2 / 3) ** 0.5 * 0.1)
            assert c["ei"] == pytest.approx(expected_improvement(best, c["mean"], c["std"]))
        chosen = max(info["candidates"], key=lambda c: c["ei"])
        assert line["config"] == chosen["config"] == info["candidates"][info["chosen"]]["config"]
        # The target: best - 0.1 * (worst - best), over the results before this round.
        values = [earlier["value"] for earlier in lines[:r]]
        target = min(values) - 0.1 * (max(values) - min(values))
        assert info["target"] == pytest.approx(target) and info["alpha"] == 0.1

    prompt = server.bodies[1]["messages"][-1]["content"]  # round 3's first candidate prompt
    assert "- x1: [-5.0000, 5.0000] (float, precise to 4 decimals)" in prompt
    assert "- act: (categorical, must take value in ['relu', 'tanh'])" in prompt
    assert f"target performance of {lines[3]['tuner']['target']:.6f}" in prompt
    assert prompt.rstrip().endswith(
        f"Performance: {lines[3]['tuner']['target']:.6f}\nHyperparameter configuration:"
    )
    for line in lines[:3]:  # every result so far, as the paper writes them
        assert f"Performance: {line['value']:.6f}\nHyperparameter configuration: ## x1: " in prompt
    # Each template shows the results in its own random order.
    shown = [re.findall(r"Performance: (\S+)\n", body["messages"][-1]["content"])
             for body in server.bodies if kind(body) == "candidates"]  # fmt: skip
    assert all(
        sorted(s) == sorted(shown[2 * i]) for i in range(3) for s in shown[2 * i : 2 * i + 2]
    )
    assert any(shown[2 * i] != shown[2 * i + 1] for i in range(3))
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert summary["llm"]["calls"] == len(server.bodies) == 19
    assert summary["llm"]["calls_by_step"] == {"warm_start": 1, "candidates": 6, "surrogate": 12}


def test_a_provider_that_ignores_n_is_asked_again_for_the_rest(tmp_path):
    server = run(tmp_path, LLAMBOScript(honour_n=False), budget=4)
    kinds = [kind(body) for body in server.bodies]
    # One round: each candidate prompt asked with n=2, then n=1; each surrogate prompt with
    # n=3, 2, 1: three calls for its three predictions.
    assert kinds == ["warm_start"] + ["candidates"] * 4 + ["surrogate"] * 12
    assert [b.get("n", 1) for b in server.bodies[1:5]] == [2, 1, 2, 1]
    assert [b.get("n", 1) for b in server.bodies[5:8]] == [3, 2, 1]
    seeds = [b["seed"] for b in server.bodies[5:8]]
    assert len(set(seeds)) == 3  # each call its own seed: a sample, not the same answer again
    line = trial_lines(tmp_path / "s")[3]
    assert all(len(c["predictions"]) == 6 for c in line["tuner"]["candidates"])


def test_llmsampler_proposes_by_llambos_steps(tmp_path, monkeypatch):
    optuna = pytest.importorskip("optuna")
    from llmhpo.integrations.optuna import USER_ATTR, LLMSampler

    monkeypatch.chdir(tmp_path)
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial):
        config = {"x1": trial.suggest_float("x1", -5.0, 5.0),
                  "x2": trial.suggest_float("x2", -5.0, 5.0),
                  "act": trial.suggest_categorical("act", ["relu", "tanh"])}  # fmt: skip
        return loss(config)

    with RespondingLLMServer(LLAMBOScript()) as server:
        sampler = LLMSampler(llm={**LLM, "api_base": server.url}, tuner="llambo", budget=5,
                             **OPTIONS)  # fmt: skip
        study = optuna.create_study(sampler=sampler)
        study.optimize(objective, n_trials=5)
    sources = [t.user_attrs[USER_ATTR]["source"] for t in study.trials]
    assert sources == ["independent", "llm", "llm", "llm", "llm"]
    kinds = [kind(body) for body in server.bodies]
    # Trial 0 is Optuna's (no parameter known yet); trials 1 and 2 the warm start's (asked
    # once, for the 2 configurations left of n_initial=3); trials 3 and 4 LLAMBO's steps.
    assert kinds == ["warm_start"] + (["candidates"] * 2 + ["surrogate"] * 4) * 2
    assert {t.params["x1"] for t in study.trials[1:3]} == {-3.0, 3.0}


def test_the_readers_take_the_papers_formats_and_nothing_else():
    names = ["x1", "x2", "act"]
    assert read_pairs("## x1: 0.5, x2: -1.25, act: 'tanh' ##", names) == {
        "x1": "0.5", "x2": "-1.25", "act": "tanh"
    }  # fmt: skip
    assert read_pairs("## a, b: 1, c: d: 2 ##", ["a, b", "c: d"]) == {"a, b": "1", "c: d": "2"}
    with pytest.raises(ValueError, match="no '## configuration ##'"):
        read_pairs('{"x1": 0.5}', names)
    assert _read_score("## 0.123456 ##") == 0.123456
    assert _read_score("## -1.5e-03 ##") == -0.0015
    assert _read_score("## 0.1 ## or ## 0.2 ##") is None  # two predictions: none read
    assert _read_score("about 0.1") is None
