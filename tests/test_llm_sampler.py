"""LLMSampler: Optuna studies proposed by llmhpo's LLM tuner (the embedded model, for real)."""

import json
import math
import threading
import time

import optuna
import pytest
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from llmhpo.integrations.optuna import USER_ATTR, LLMSampler, _history
from llmhpo.space import same_config
from llmhpo.tuners.llm import LLMTuner

optuna.logging.set_verbosity(optuna.logging.WARNING)


def objective(trial: optuna.Trial) -> float:
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    x = trial.suggest_float("x", -5.0, 5.0)
    n = trial.suggest_int("n", 1, 8)
    act = trial.suggest_categorical("act", ["relu", "tanh"])
    return (x - 1) ** 2 + abs(n - 3) + (act == "relu") + abs(math.log10(lr) + 3)


def check_sources(study: optuna.Study) -> list[str]:
    """Each trial's values came from the LLM's accepted answer, or the trial says otherwise."""
    sources = []
    for trial in study.trials:
        info = trial.user_attrs[USER_ATTR]
        sources.append(info["source"])
        assert info["source"] in ("independent", "llm", "fallback")
        if info["source"] == "llm":
            answer = json.loads(info["answer"])
            for name, value in trial.params.items():
                assert (
                    value == pytest.approx(answer[name]) if name != "act" else value == answer[name]
                )
        if info["source"] == "fallback":
            assert "no valid proposal" in info["reason"] and info["attempts"] == 3
    return sources


@pytest.mark.slow  # kept out of `make test` (under 5 min); `make test-all` runs it
def test_a_five_trial_study_over_every_kind_of_parameter(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the replay cache is relative to the working directory
    study = optuna.create_study(sampler=LLMSampler(llm="local", seed=0, budget=5))
    study.optimize(objective, n_trials=5)
    assert len(study.trials) == 5 and all(t.state == TrialState.COMPLETE for t in study.trials)
    sources = check_sources(study)
    assert sources[0] == "independent"  # nothing is known of the space before the first trial
    assert set(sources[1:]) <= {"llm", "fallback"}
    for trial in study.trials:
        assert 1e-5 <= trial.params["lr"] <= 1e-1 and isinstance(trial.params["n"], int)


@pytest.mark.slow
def test_parallel_trials_never_ask_the_llm_at_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    active, most = [0], [0]
    guard = threading.Lock()
    original = LLMTuner.ask

    def counting_ask(self):
        with guard:
            active[0] += 1
            most[0] = max(most[0], active[0])
        time.sleep(0.05)
        try:
            return original(self)
        finally:
            with guard:
                active[0] -= 1

    monkeypatch.setattr(LLMTuner, "ask", counting_ask)
    study = optuna.create_study(
        sampler=LLMSampler(llm="local", seed=1, budget=6), direction="maximize"
    )
    study.optimize(lambda t: -objective(t), n_trials=6, n_jobs=2)
    assert len(study.trials) == 6 and most[0] == 1
    check_sources(study)


def test_history_tells_pruned_and_failed_trials_and_a_maximised_value():
    study = optuna.create_study(direction="maximize")
    space = {"x": FloatDistribution(0, 1), "n": IntDistribution(1, 3)}
    study.add_trial(create_trial(params={"x": 0.5, "n": 2}, distributions=space, value=0.9))
    study.add_trial(
        create_trial(
            params={"x": 0.1, "n": 1}, distributions=space, state=TrialState.PRUNED,
            intermediate_values={0: 0.3, 4: 0.2},
        )
    )  # fmt: skip
    study.add_trial(
        create_trial(params={"x": 0.7, "n": 3}, distributions=space, state=TrialState.FAIL)
    )
    study.add_trial(create_trial(params={"x": 0.2}, distributions={"x": space["x"]}, value=0.1))
    records = _history(study, space)
    assert [r.round for r in records] == [0, 1, 2]  # the trial without `n` is not in this space
    assert (
        records[0].status == "ok"
        and records[0].value == -0.9
        and records[0].metrics == {"metric": 0.9}
    )
    # a pruned trial is told as pruned, its curve in what the tuner minimises (negated here)
    assert records[1].status == "pruned" and records[1].error == "pruned at step 4"
    assert records[1].curve == [[0, -0.3], [4, -0.2]] and records[1].value == -0.2
    assert records[1].metrics == {"metric": 0.2}
    assert records[2].status == "failed" and records[2].error == "the trial failed"


def test_a_number_copied_with_fewer_digits_is_the_same_configuration():
    assert same_config(
        {"lr": 0.0015676677195506068, "a": "relu"}, {"lr": 0.0015676677195506, "a": "relu"}
    )
    assert not same_config({"lr": 0.00156766}, {"lr": 0.00156767})
    assert not same_config({"flag": True}, {"flag": 1})
    assert not same_config({"a": 1}, {"b": 1})


def test_a_multi_objective_study_is_refused_before_any_evaluation(tmp_path, monkeypatch):
    from llmhpo.errors import ConfigError

    monkeypatch.chdir(tmp_path)
    evaluated = []
    study = optuna.create_study(
        directions=["minimize", "minimize"], sampler=LLMSampler(llm="local")
    )
    with pytest.raises(ConfigError, match="LLMSampler tunes one objective; this study has 2"):
        study.optimize(
            lambda t: evaluated.append(t.suggest_float("x", 0, 1)) or (0.0, 0.0), n_trials=2
        )
    assert evaluated == []


def test_a_remote_llm_without_its_key_is_refused_at_construction(monkeypatch):
    from llmhpo.llm.credentials import MissingAPIKeyError

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY"):
        LLMSampler(llm="openai")


@pytest.mark.slow  # kept out of `make test` (under 5 min); `make test-all` runs it
def test_the_prompt_never_announces_a_budget_below_the_trials_already_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sampler = LLMSampler(llm="local", budget=2, seed=0)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: (t.suggest_float("x", -5.0, 5.0) - 1) ** 2, n_trials=4)
    # Every request sent is in the replay cache; the fourth trial's prompt lists three results.
    requests = [json.loads(p.read_text())["request"] for p in tmp_path.glob(".cache/**/*.json")]
    prompts = [json.dumps(r["messages"]) for r in requests]
    last = next(p for p in prompts if "Config 3:" in p)
    assert "budget to try 4 configurations" in last and "try 2 configurations" not in last


def test_a_study_past_the_budget_warns_once_and_no_prompt_claims_a_round_beyond_it():
    import re

    from tests.helpers.servers import FaultyLLMServer

    answers = [json.dumps({"x": x}) for x in (0.5, -1.5, 2.5, 3.5, -3.5, 4.5)]
    with FaultyLLMServer([], answers) as server:
        llm = {"provider": "litellm", "model": "openai/fake", "api_base": server.url,
               "api_key_env": None, "cache": False, "response_format": "none"}  # fmt: skip
        study = optuna.create_study(sampler=LLMSampler(llm=llm, budget=2, seed=0))
        with pytest.warns(
            UserWarning, match=r"LLMSampler\(budget=2\) is proposing trial 3"
        ) as warned:
            study.optimize(lambda t: t.suggest_float("x", -5.0, 5.0) ** 2, n_trials=5)
    assert len([w for w in warned if "LLMSampler" in str(w.message)]) == 1
    prompts = [body["messages"][-1]["content"] for body in server.bodies]
    assert len(prompts) == 4  # trials 2 to 5 (the first is the independent sampler's)
    for prompt in prompts:
        announced = int(re.search(r"budget to try (\d+) configurations", prompt).group(1))
        shown = len(re.findall(r"Config \d+:", prompt))
        assert announced >= shown + 1  # the round it asks for is within what it announces


def test_a_remote_llm_without_valid_answers_falls_back_as_the_docs_say():
    """docs/optuna-sampler.md: a round without a valid new answer comes from the independent
    sampler, for a remote LLM too (the CLI's remote default would stop the study)."""
    from tests.helpers.servers import FaultyLLMServer

    answers = ["I would try a small step."] * 6
    with FaultyLLMServer([], answers) as server:
        llm = {"provider": "litellm", "model": "openai/fake", "api_base": server.url,
               "api_key_env": None, "cache": False}  # fmt: skip
        study = optuna.create_study(sampler=LLMSampler(llm=llm, budget=3, seed=0))
        study.optimize(lambda t: t.suggest_float("x", -5.0, 5.0) ** 2, n_trials=3)
    sources = [t.user_attrs[USER_ATTR]["source"] for t in study.trials]
    assert sources == ["independent", "fallback", "fallback"]
    assert all(t.state == TrialState.COMPLETE for t in study.trials)


@pytest.mark.slow  # kept out of `make test` (under 5 min); `make test-all` runs it
def test_parallel_trials_never_evaluate_a_running_trials_configuration(tmp_path, monkeypatch):
    """With n_jobs=2 the LLM once proposed what the other worker was evaluating (3 of 10
    trials, marked source llm): running trials are in the repeat check."""
    monkeypatch.chdir(tmp_path)

    def slow(trial: optuna.Trial) -> float:
        n = trial.suggest_int("n", 1, 4)
        act = trial.suggest_categorical("act", ["relu", "tanh"])
        time.sleep(0.3)  # both workers overlap
        return abs(n - 3) + (act == "relu")

    study = optuna.create_study(sampler=LLMSampler(llm="local", seed=0, budget=8))
    study.optimize(slow, n_trials=8, n_jobs=2)
    from_llm = [t for t in study.trials if t.user_attrs[USER_ATTR]["source"] == "llm"]
    for trial in from_llm:
        others = [t for t in study.trials if t.number != trial.number
                  and t.datetime_start <= trial.datetime_start]  # fmt: skip
        assert all(t.params != trial.params for t in others), trial.number


def test_conditional_parameters_come_from_the_independent_sampler_marked(tmp_path, monkeypatch):
    """Define-by-run: the LLM proposes the shared parameter; the conditional ones come from the
    independent sampler and are listed as such. Once both kinds were tried, the shared one
    alone used to be a 'repeat' in every answer, leaving the LLM nothing to propose."""
    monkeypatch.chdir(tmp_path)

    def conditional(trial: optuna.Trial) -> float:
        kind = trial.suggest_categorical("kind", ["a", "b"])
        if kind == "a":
            return trial.suggest_float("x_a", -1.0, 1.0) ** 2
        return abs(trial.suggest_int("n_b", 1, 5) - 2)

    study = optuna.create_study(sampler=LLMSampler(llm="local", seed=0, budget=6))
    study.optimize(conditional, n_trials=6)
    infos = [t.user_attrs[USER_ATTR] for t in study.trials]
    assert infos[0]["source"] == "independent"
    kinds = [t.params["kind"] for t in study.trials]
    both = next(i for i in range(len(kinds)) if set(kinds[: i + 1]) == {"a", "b"})
    assert both < 5, kinds  # the shared space is {kind} from here on
    assert all(info["source"] == "llm" for info in infos[both + 1 :]), infos
    for trial, info in zip(study.trials[both + 1 :], infos[both + 1 :], strict=True):
        assert info["independent"] == [name for name in trial.params if name != "kind"]
