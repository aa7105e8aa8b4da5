import math
import re

import numpy as np
import pytest
from omegaconf import OmegaConf

from llmhpo.space import (
    CategoricalParam,
    FloatParam,
    IntParam,
    InvalidConfigError,
    SearchSpace,
    SearchSpaceError,
)
from llmhpo.tuners.llm.answers import answer_schema
from llmhpo.tuners.optuna_space import distributions
from tests.helpers.config import compose_config
from tests.helpers.runs import trial_lines


@pytest.fixture
def space() -> SearchSpace:
    cfg = compose_config(["search_space=constrained"])
    return SearchSpace.from_config(OmegaConf.to_container(cfg.search_space, resolve=True))


GOOD = {
    "optimizer": "adam",
    "learning_rate": 0.01,
    "train_batch_size": 128,
    "weight_decay": 1e-4,
    "label_smoothing": 0.1,
}

# (proposal, a phrase the message must contain)
BAD_INPUTS = [
    ({**GOOD, "momentum": 0.9}, "unknown key 'momentum'"),
    (
        {**{k: v for k, v in GOOD.items() if k != "train_batch_size"}, "training batch size": 64},
        "unknown key 'training batch size' (did you mean 'train_batch_size'?)",
    ),
    ({k: v for k, v in GOOD.items() if k != "learning_rate"}, "missing key 'learning_rate'"),
    ({**GOOD, "learning_rate": "fast"}, "'learning_rate' must be a number, got 'fast'"),
    ({**GOOD, "learning_rate": True}, "'learning_rate' must be a number, got True"),
    ({**GOOD, "learning_rate": 0.5}, "'learning_rate' is 0.5, above the maximum 0.1"),
    ({**GOOD, "learning_rate": 1e-6}, "'learning_rate' is 1e-06, below the minimum 0.0001"),
    ({**GOOD, "learning_rate": float("nan")}, "'learning_rate' must be a finite number"),
    ({**GOOD, "weight_decay": float("inf")}, "'weight_decay' must be a finite number"),
    ({**GOOD, "optimizer": "rmsprop"}, "'optimizer' must be one of ['adam', 'sgd'], got 'rmsprop'"),
    (
        {**GOOD, "train_batch_size": 100},
        "'train_batch_size' must be one of [32, 64, 128, 256, 512]",
    ),
    ({**GOOD, "label_smoothing": -0.1}, "'label_smoothing' is -0.1, below the minimum 0"),
    ({**GOOD, "optimizer": ["adam"]}, "'optimizer' must be one of ['adam', 'sgd'], got ['adam']"),
    ([0.01, 128], "expected a JSON object with keys"),
    ("adam", "expected a JSON object with keys"),
    (None, "expected a JSON object with keys"),
    ({}, "missing key 'optimizer'"),
    ({**GOOD, "learning_rate": {"value": 0.01}}, "'learning_rate' must be a number"),
]


@pytest.mark.parametrize("proposal,expected", BAD_INPUTS)
def test_bad_inputs_name_the_problem(space, proposal, expected):
    with pytest.raises(InvalidConfigError) as caught:
        space.validate(proposal)
    assert expected in str(caught.value)


def test_every_problem_is_reported_at_once(space):
    proposal = {"optimizer": "rmsprop", "learning_rate": 2.0, "extra": 1}
    with pytest.raises(InvalidConfigError) as caught:
        space.validate(proposal)
    problems = caught.value.problems
    assert len(problems) == 6  # extra key, bad optimizer, bad lr, three missing keys
    assert sum("missing key" in p for p in problems) == 3


def test_coercion_of_forgivable_forms(space):
    config = space.validate(
        {
            "optimizer": "SGD",
            "learning_rate": "0.05",
            "train_batch_size": 64.0,
            "weight_decay": " 1e-3 ",
            "label_smoothing": 0,
        }
    )
    assert config == {
        "optimizer": "sgd",
        "learning_rate": 0.05,
        "train_batch_size": 64,
        "weight_decay": 0.001,
        "label_smoothing": 0.0,
    }
    assert isinstance(config["train_batch_size"], int)


def test_int_param_messages():
    space = SearchSpace([IntParam("depth", 1, 12)])
    assert space.validate({"depth": "6"}) == {"depth": 6}
    with pytest.raises(InvalidConfigError, match="'depth' must be an integer, got 6.5"):
        space.validate({"depth": 6.5})
    with pytest.raises(InvalidConfigError, match="'depth' is 13, above the maximum 12"):
        space.validate({"depth": 13})


def test_unconstrained_space_checks_signs_only():
    cfg = compose_config(["search_space=unconstrained"])
    space = SearchSpace.from_config(OmegaConf.to_container(cfg.search_space, resolve=True))
    ok = space.validate({**GOOD, "learning_rate": 3.0, "train_batch_size": 1000})
    assert ok["learning_rate"] == 3.0
    with pytest.raises(InvalidConfigError, match="'learning_rate' must be greater than 0, got 0"):
        space.validate({**GOOD, "learning_rate": 0})
    with pytest.raises(SearchSpaceError, match="cannot be sampled"):
        space.sample(np.random.default_rng(0))


def test_sampling_stays_inside_and_validates(space):
    rng = np.random.default_rng(0)
    for _ in range(500):
        config = space.sample(rng)
        assert space.validate(config) == config
        assert 1e-4 <= config["learning_rate"] <= 1e-1
        assert 0.0 <= config["label_smoothing"] <= 0.2


def test_sampling_is_reproducible_by_seed(space):
    first = [space.sample(np.random.default_rng(7)) for _ in range(3)]
    again = [space.sample(np.random.default_rng(7)) for _ in range(3)]
    other = space.sample(np.random.default_rng(8))
    assert first == again
    assert other != first[0]


def test_log_scale_is_log_uniform():
    log_param = FloatParam("lr", 1e-4, 1e-1, log=True)
    linear_param = FloatParam("ls", 1e-4, 1e-1)
    rng = np.random.default_rng(0)
    logs = np.array([math.log10(log_param.sample(rng)) for _ in range(4000)])
    linear = np.array([linear_param.sample(rng) for _ in range(4000)])
    # Each decade holds a third of log-uniform draws; a uniform draw lands in the top decade 90%.
    for low in (-4, -3, -2):
        share = np.mean((logs >= low) & (logs < low + 1))
        assert abs(share - 1 / 3) < 0.03
    assert np.mean(linear >= 1e-2) > 0.88


def test_int_log_sampling_covers_the_ends():
    param = IntParam("units", 1, 1000, log=True)
    draws = [param.sample(np.random.default_rng(i)) for i in range(2000)]
    assert min(draws) == 1 and max(draws) <= 1000
    assert np.mean(np.array(draws) <= 31) > 0.4  # half of the log range lies below sqrt(1000)


def test_json_schema(space):
    schema = answer_schema(space)
    assert schema["required"] == space.names
    assert schema["additionalProperties"] is False
    assert schema["properties"]["learning_rate"] == {
        "type": "number",
        "minimum": 1e-4,
        "maximum": 0.1,
    }
    assert schema["properties"]["train_batch_size"] == {"enum": [32, 64, 128, 256, 512]}


def test_description_lists_every_parameter(space):
    text = space.describe()
    assert "- learning_rate: float in [0.0001, 0.1], log scale" in text
    assert "- optimizer: one of ['adam', 'sgd']" in text
    assert len(text.splitlines()) == len(space.names)


def test_optuna_distributions(space):
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    dists = distributions(space)
    assert dists["learning_rate"] == FloatDistribution(1e-4, 1e-1, log=True)
    assert dists["optimizer"] == CategoricalDistribution(("adam", "sgd"))


@pytest.mark.parametrize(
    "parameters,expected",
    [
        ({}, "non-empty 'parameters'"),
        ({"lr": {"low": 0, "high": 1}}, "expected a mapping with a 'type'"),
        ({"lr": {"type": "double", "low": 0, "high": 1}}, "unknown type 'double'"),
        ({"lr": {"type": "float", "low": 1, "high": 0}}, "low (1.0) must be below high (0.0)"),
        ({"lr": {"type": "float", "low": 0, "high": 1, "log": True}}, "needs low > 0"),
        ({"opt": {"type": "categorical", "choices": []}}, "'choices' must be a non-empty list"),
        ({"lr": {"type": "float", "lo": 0}}, "unknown field(s) ['lo']"),
        # strict types: each of these was once coerced silently into another space
        (
            {"lr": {"type": "float", "low": 1e-4, "high": 1, "log": "false"}},
            "'log' must be true or false, got 'false'",
        ),
        (
            {"n": {"type": "int", "low": 0.5, "high": 3}},
            "'low' of an int must be a whole number, got 0.5",
        ),
        (
            {"n": {"type": "int", "low": 0, "high": 3.7}},
            "'high' of an int must be a whole number, got 3.7",
        ),
        (
            {"x": {"type": "float", "low": True, "high": 2}},
            "'low' must be a finite number, got True",
        ),
        (
            {"x": {"type": "float", "low": "abc", "high": 2}},
            "parameter 'x': 'low' must be a finite number, got 'abc'",
        ),
        (
            {"x": {"type": "float", "low": float("nan"), "high": 2}},
            "'low' must be a finite number, got nan",
        ),
        (
            {"x": {"type": "float", "low": 0, "high": 1, "low_exclusive": "yes"}},
            "'low_exclusive' must be true or false",
        ),
        (
            {"act": {"type": "categorical", "choices": ["a", "A"]}},
            "choices 'a' and 'A' read as the same answer",
        ),
        (
            {"bs": {"type": "categorical", "choices": [64, "64"]}},
            "choices 64 and '64' read as the same answer",
        ),
        (
            {"p": {"type": "categorical", "choices": [[1, 2], 3]}},
            "each choice must be a word, a number, true/false or null, got [1, 2]",
        ),
        ({"p": {"type": "categorical", "choices": [{"a": 1}]}}, "each choice must be a word"),
    ],
)
def test_bad_space_configs(parameters, expected):
    with pytest.raises(SearchSpaceError) as caught:
        SearchSpace.from_config({"name": "mine", "parameters": parameters})
    assert expected in str(caught.value)


def test_categorical_does_not_confuse_bool_with_number():
    param = CategoricalParam("flag", (True, False))
    assert param.coerce(True) is True
    with pytest.raises(ValueError):
        param.coerce(1)


def test_an_integral_float_bound_is_a_whole_number(tmp_path):
    """`high: 1e3` in a YAML file is 1000 (as Hydra reads conf/), not the string '1e3' that
    once reached int() as a raw ValueError."""
    space = SearchSpace.from_dict({"n": {"type": "int", "low": 1, "high": 1e3}})
    assert space.params["n"] == IntParam("n", 1, 1000)
    (tmp_path / "space.yaml").write_text("n: {type: int, low: 1, high: 1e3}\n")
    assert SearchSpace.from_yaml(tmp_path / "space.yaml").params["n"] == IntParam("n", 1, 1000)


def test_null_is_a_choice_every_tuner_can_propose(tmp_path):
    """Optuna allows None among a categorical's choices, and so does llmhpo: sampled,
    validated (an LLM's JSON null), described to the LLM as null, proposed by TPE."""
    import llmhpo

    space = SearchSpace.from_dict({"act": {"type": "categorical", "choices": [None, "relu"]},
                                   "x": {"type": "float", "low": 0, "high": 1}})  # fmt: skip
    assert space.validate({"act": None, "x": 0.5}) == {"act": None, "x": 0.5}
    assert "one of [null, 'relu']" in space.describe()
    assert answer_schema(space)["properties"]["act"] == {"enum": [None, "relu"]}
    for tuner in ("random", "bo"):
        study = llmhpo.Study(space, tuner, budget=8, folder=tmp_path / tuner)
        study.optimize(lambda config: config["x"] + (0.0 if config["act"] is None else 1.0))
        assert {t.config["act"] for t in study.trials} == {None, "relu"}


REFUSED_NAMES = {
    "a double quote": 'learning "rate"',
    "a backslash": "lr\\n",
    "a newline": "learning\nrate",
    "a tab": "learning\trate",
    "an empty string": "",
    "1,000 characters": "x" * 1000,
    "a number": 3,
    "null": None,
}


@pytest.mark.parametrize("why", sorted(REFUSED_NAMES))
def test_a_name_no_tuner_can_carry_is_refused_in_one_line_when_the_space_is_built(why, tmp_path):
    """A double quote in a name crashed llama.cpp's grammar parser (the process died with no
    Python error): such names are refused before any tuner sees them, at every door."""
    import llmhpo

    parameters = {REFUSED_NAMES[why]: {"type": "float", "low": 0, "high": 1}}
    with pytest.raises(SearchSpaceError, match="name parameters with 1 to 100 characters") as error:
        SearchSpace.from_dict(parameters)
    assert "\n" not in str(error.value)
    with pytest.raises(SearchSpaceError):
        llmhpo.Study(parameters, "llm", folder=tmp_path / "s")
    assert not (tmp_path / "s").exists()


UNICODE_SPACE = {
    "größe": {"type": "float", "low": 0.0, "high": 1.0},
    "学习率 (lr)": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
    "λ-act": {"type": "categorical", "choices": ["relu", "tanh"]},
    "it's {n}: a/b#c": {"type": "int", "low": 1, "high": 4},
    "n_" + "x" * 98: {"type": "int", "low": 1, "high": 4},  # the longest name: 100 characters
}


@pytest.mark.parametrize("tuner", ["random", "bo", "bo_gp", "smac", "llm", "hybrid", "fixed"])
def test_names_in_any_script_and_with_punctuation_work_with_every_tuner(
    tuner, tmp_path, monkeypatch
):
    import llmhpo

    monkeypatch.chdir(tmp_path)  # the LLM tuners' replay cache
    names = list(UNICODE_SPACE)
    options = {"smac": {"crash_cost": 10.0},
               "fixed": {"config": dict(zip(names, [0.5, 0.01, "relu", 2, 3], strict=True))}}  # fmt: skip
    budget = 1 if tuner in ("fixed", "llm", "hybrid") else 3  # one LLM round shows the grammar
    study = llmhpo.Study(
        UNICODE_SPACE, tuner, budget=budget, folder=tmp_path / "s", **options.get(tuner, {})
    )
    summary = study.optimize(lambda c: c["größe"] + c["学习率 (lr)"] + c["n_" + "x" * 98])
    assert summary["status_counts"]["ok"] == budget
    if tuner in ("llm", "hybrid"):  # the embedded model's grammar carried every name
        (trial,) = study.trials
        assert trial.tuner["answers"] and trial.tuner["attempts"] >= 1


# The logit scale (Bayesmark's warping of a fraction): uniform in log(p / (1 - p)).
LOGIT = {"type": "float", "low": 0.01, "high": 0.99, "scale": "logit"}


def logit_share_below(threshold: float, low: float = 0.01, high: float = 0.99) -> float:
    """The share of a logit-uniform draw on [low, high] below `threshold`, by hand."""
    odds = lambda p: math.log(p / (1 - p))  # noqa: E731
    return (odds(threshold) - odds(low)) / (odds(high) - odds(low))


def test_a_logit_scale_parameter_samples_uniformly_in_its_log_odds():
    space = SearchSpace.from_dict({"p": LOGIT})
    rng = np.random.default_rng(0)
    draws = np.array([space.sample(rng)["p"] for _ in range(20_000)])
    assert draws.min() >= 0.01 and draws.max() <= 0.99
    # 0.261 by hand; a linear draw would put 0.092 below 0.1, a log draw 0.5
    assert abs(np.mean(draws < 0.1) - logit_share_below(0.1)) < 0.015
    assert abs(np.mean(draws > 0.9) - logit_share_below(0.1)) < 0.015  # symmetric about 0.5
    assert space.params["p"].describe() == "p: float in [0.01, 0.99], logit scale"


@pytest.mark.parametrize(
    ("spec", "phrase"),
    [
        ({**LOGIT, "low": 0.0}, "needs 0 < low < high < 1"),
        ({**LOGIT, "high": 1.0}, "needs 0 < low < high < 1"),
        ({"type": "float", "low": 0.1, "scale": "logit"}, "needs 0 < low < high < 1"),
        ({"type": "int", "low": 1, "high": 3, "scale": "logit"}, "an int cannot be on a logit"),
        ({**LOGIT, "log": True}, "'log: true' and 'scale: logit' disagree"),
        ({**LOGIT, "scale": "exp"}, "'scale' must be one of ['linear', 'log', 'logit']"),
    ],
)
def test_a_logit_scale_outside_the_open_unit_interval_or_on_an_int_is_refused(spec, phrase):
    with pytest.raises(SearchSpaceError, match=re.escape(phrase)):
        SearchSpace.from_dict({"p": spec})


def test_scale_log_is_log_true_and_only_a_logit_parameter_records_a_scale():
    """`scale: log` means `log: true`; a record of a space without a logit parameter is what
    an earlier version wrote, so its studies' folders are still found."""
    space = SearchSpace.from_dict(
        {"lr": {"type": "float", "low": 1e-4, "high": 1.0, "scale": "log"}, "p": LOGIT}
    )
    assert space.params["lr"].log
    record = space.to_config()["parameters"]
    assert record["lr"] == {"type": "float", "log": True, "low": 1e-4, "high": 1.0}
    assert record["p"]["scale"] == "logit"
    assert SearchSpace.from_config(space.to_config()).params == space.params


def test_optuna_and_configspace_search_a_logit_parameter_in_its_log_odds():
    from llmhpo.tuners.optuna_space import from_optuna, to_optuna
    from llmhpo.tuners.smac import configspace

    space = SearchSpace.from_dict({"p": LOGIT})
    odds = math.log(0.99 / 0.01)
    low, high = distributions(space)["p"].low, distributions(space)["p"].high
    assert (low, high) == pytest.approx((-odds, odds))
    assert not distributions(space)["p"].log
    assert to_optuna(space, {"p": 0.5}) == {"p": 0.0}
    assert from_optuna(space, {"p": math.log(0.2 / 0.8)})["p"] == pytest.approx(0.2)
    assert from_optuna(space, {"p": odds})["p"] <= 0.99  # never past a bound by rounding
    hyperparameter = configspace(space, seed=0)["p"]
    assert (hyperparameter.lower, hyperparameter.upper) == pytest.approx((-odds, odds))


def test_the_optuna_tuner_keeps_a_logit_parameter_as_log_odds_in_its_study(tmp_path):
    """What TPE models is the log-odds: its trials hold logit(p) for the p the study ran."""
    import llmhpo

    study = llmhpo.Study({"p": LOGIT}, "bo", budget=4, seed=0, folder=tmp_path)
    study.optimize(lambda config: (config["p"] - 0.2) ** 2)
    optuna_trials = study._loop.tuner.study.trials
    ran = [line["config"]["p"] for line in trial_lines(tmp_path)]
    assert [t.params["p"] for t in optuna_trials] == pytest.approx(
        [math.log(p / (1 - p)) for p in ran]
    )
