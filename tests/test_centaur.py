"""tuner=centaur against a scripted OpenAI-compatible server on 127.0.0.1: which rounds go
to the LLM, what its prompt shows of CMA-ES, and that CMA-ES learns from the LLM's rounds."""

import json

import llmhpo
from tests.helpers.runs import trial_lines
from tests.helpers.servers import FaultyLLMServer

SPACE = {
    "x1": {"type": "float", "low": -5.0, "high": 5.0},
    "x2": {"type": "float", "low": -5.0, "high": 5.0},
    "act": {"type": "categorical", "choices": ["relu", "tanh"]},
}


def loss(config: dict) -> float:
    return (config["x1"] - 1.0) ** 2 + (config["x2"] + 2.0) ** 2 + (config["act"] == "tanh")


def test_the_llms_rounds_show_cma_es_state_and_are_told_to_cma_es(tmp_path):
    answers = [
        json.dumps({"x1": 0.5, "x2": -1.5, "act": "relu"}),  # round 2
        "I am not sure.",  # round 4: three answers that are no configuration...
        "Still thinking.",
        "Nothing.",
        json.dumps({"x1": 1.25, "x2": -2.25, "act": "relu"}),  # round 6
        json.dumps({"x1": 0.75, "x2": -2.0, "act": "relu"}),  # round 8
    ]
    llm = {"provider": "litellm", "model": "openai/fake", "api_key_env": None, "cache": False,
           "response_format": "none"}  # fmt: skip
    with FaultyLLMServer([], answers) as server:
        study = llmhpo.Study(SPACE, "centaur", llm={**llm, "api_base": server.url}, budget=10,
                             folder=tmp_path / "s", llm_warmup=2, llm_ratio=0.5)  # fmt: skip
        study.optimize(loss)
    lines = trial_lines(tmp_path / "s")
    proposers = [line["tuner"]["proposer"] for line in lines]
    assert proposers == ["cmaes", "cmaes", "llm", "cmaes", "cmaes", "cmaes", "llm", "cmaes",
                         "llm", "cmaes"]  # fmt: skip
    assert lines[4]["tuner"]["fallback"] == "cmaes"  # ...so CMA-ES's own proposal, marked
    assert lines[4]["tuner"]["bo"] == {"sampler": "cmaes"} and lines[4]["tuner"]["attempts"] == 3
    assert lines[2]["config"] == json.loads(answers[0])
    assert lines[6]["config"] == json.loads(answers[4])

    prompts = [body["messages"][0]["content"] for body in server.bodies]
    assert [body["temperature"] for body in server.bodies][:2] == [0.7, 0.7]  # the paper's
    first, last = prompts[0], prompts[-1]
    assert "CMA-ES is still initializing" in first and "CMA-ES's next suggestion" in first
    assert "Previous evaluations (last 20):" in first and lines[0]["config"]["act"] in first
    # Round 8: CMA-ES has told its first generation (rounds 1 to 6 after one random round,
    # the LLM's rounds 2 and 6 among them): its mean, sigma and covariance are shown, with
    # how to read them.
    assert "CMA-ES's mean: {" in last and "sigma=" in last
    assert "covariance matrix (2x2)" in last and "Row/column order: 0=x1, 1=x2" in last
    assert "Current best config" in last and "Top 5 configurations so far" in last

    cma = study._loop.tuner.bo
    cma.ask()  # CMA-ES follows the study's rounds when it is asked
    trials = cma.study.trials
    assert trials[4].params == lines[4]["config"]  # CMA-ES's own proposal, evaluated
    assert trials[2].params == json.loads(answers[0])  # the LLM's configuration, in CMA-ES's
    assert trials[2].system_attrs["cma:generation"] == 0  # in the first generation, which it
    assert any(key.startswith("cma:optimizer:") for key in trials[7].system_attrs)  # told
