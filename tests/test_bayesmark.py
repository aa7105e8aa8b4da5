"""objective=bayesmark: Bayesmark's scikit-learn tasks as LLAMBO ran them.

The expected scores are LLAMBO's own: the first row of its published runs
(`exp_bayesmark/results_discriminative/{dataset}/{model}/0.csv` in tennisonliu/LLAMBO),
the first starting configuration of seed 0, scored by its code; a model, a fold, a scorer or
the targets' standardisation set differently from LLAMBO's moves them.
"""

import json

import pytest

from llmhpo.assemble.parts import build_objective, build_search_space
from llmhpo.objectives.bayesmark import MODELS, bayesmark_space, starting_configs
from llmhpo.store.trial_log import TrialRecord
from llmhpo.tuners.llm.prompts import PromptBuilder, PromptSettings
from tests.helpers.config import compose_config
from tests.helpers.runs import run_cli, trial_lines

# (model, dataset): LLAMBO's recorded (score, generalization_score) of seed 0's first config
PUBLISHED = {
    ("SVM", "breast"): (0.9274725274725275, 0.9210526315789473),
    ("RandomForest", "wine"): (0.4945812807881773, 0.4444444444444444),
    ("DecisionTree", "diabetes"): (1.0031787479507257, 0.8375528864066757),  # MSE
    ("MLP_SGD", "diabetes"): (0.9763268917518578, 0.8489117053927336),
}


def bayesmark(model: str, dataset: str, *overrides: str):
    cfg = compose_config(
        ["objective=bayesmark", f"objective.model={model}", f"objective.dataset={dataset}",
         *overrides]
    )  # fmt: skip
    return cfg, build_objective(cfg)


@pytest.mark.parametrize(("model", "dataset"), sorted(PUBLISHED))
def test_a_configuration_scores_as_in_llambos_published_runs(model, dataset):
    _, objective = bayesmark(model, dataset)
    first = objective.initial_configs[0]
    evaluation = objective.evaluate(dict(first))
    score, generalization = PUBLISHED[model, dataset]
    assert evaluation.metrics["score"] == pytest.approx(score, rel=1e-12)
    assert evaluation.metrics["test_score"] == pytest.approx(generalization, rel=1e-12)
    # what the tuners minimise: the error rate, or the mean squared error itself
    tuned = score if dataset == "diabetes" else 1 - score
    assert evaluation.value == pytest.approx(tuned)


def test_the_spaces_are_llambos_with_their_warpings_as_scales():
    svm = bayesmark_space("SVM").params
    assert (svm["C"].low, svm["C"].high, svm["C"].log) == (1, 1e3, True)
    forest = bayesmark_space("RandomForest").params
    assert forest["max_features"].logit and (
        forest["max_features"].low,
        forest["max_features"].high,
    ) == (0.01, 0.99)  # noqa: E501
    assert forest["min_impurity_decrease"].describe() == "min_impurity_decrease: float in [0, 0.5]"
    assert bayesmark_space("MLP_SGD").params["momentum"].logit
    for model in MODELS:  # every shipped starting configuration is in its model's space
        space = bayesmark_space(model)
        for seed in range(10):
            for config in starting_configs(model, seed):
                space.validate(config)


def test_every_tuner_starts_from_its_seeds_five_configurations_then_proposes(tmp_path):
    result = run_cli(
        ["objective=bayesmark", "objective.model=DecisionTree", "objective.dataset=wine",
         "tuner=random", "budget=7", "seed=3", f"hydra.run.dir={tmp_path}/run"],
        tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    lines = trial_lines(tmp_path / "run")
    assert [line["config"] for line in lines[:5]] == starting_configs("DecisionTree", 3)[:5]
    assert [line["tuner"].get("proposer") for line in lines] == ["initial"] * 5 + [None] * 2
    assert all(set(line["metrics"]) == {"score", "test_score", "val_error"} for line in lines)


def test_n_initial_zero_starts_without_them_and_a_seed_without_a_list_is_refused(tmp_path):
    cfg, objective = bayesmark("SVM", "iris", "objective.n_initial=0", "seed=12")
    assert objective.initial_configs == []
    assert build_search_space(cfg, objective) is objective.search_space
    result = run_cli(["objective=bayesmark", "seed=12", "tuner=random"], tmp_path, split=True)
    assert result.returncode == 2
    assert "exist for seeds 0 to 9, not 12" in result.stderr
    assert "objective.n_initial=0" in result.stderr
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").iterdir())


def test_the_test_score_is_recorded_but_never_shown_to_an_llm():
    """The LLM's prompt shows the tuned metric of each trial; the test split's score, which
    every trial records, must not reach it (a tuner that saw it would tune on the test set)."""
    _, objective = bayesmark("SVM", "breast")
    space = objective.search_space
    records = []
    for index, config in enumerate(objective.initial_configs[:3]):
        evaluation = objective.evaluate(dict(config))
        records.append(TrialRecord.from_dict(
            {"round": index, "status": "ok", "config": config, "proposed": config,
             "value": evaluation.value, "metrics": {**evaluation.metrics, "test_score": 0.123456}}
        ))  # fmt: skip
    for form in ("chat", "compressed"):
        builder = PromptBuilder(PromptSettings(format=form), space, objective.task, budget=10)
        text = json.dumps(builder.messages(records))
        assert "0.123456" not in text and "1.2346e-01" not in text
        assert f"Error Rate: {records[0].value:.4e}" in text  # the tuned error rate is shown
