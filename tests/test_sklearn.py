"""objective=sklearn: HPOBench's models trained live on scikit-learn's bundled data."""

import dataclasses
import json
import re

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from llmhpo.assemble.parts import build_objective, build_search_space
from llmhpo.errors import ConfigError
from llmhpo.objectives.sklearn import DATASETS, lr_stages
from llmhpo.progress import reporting_to
from tests.helpers.config import compose_config

# One configuration per model, and the estimator scikit-learn builds for it by itself: HPOBench's
# fixed settings as conf/objective/sklearn.yaml ships them, written out again here.
CASES = {
    "lr": (
        {"alpha": 1e-3, "eta0": 1e-2},
        lambda c: SGDClassifier(**c, loss="log_loss", learning_rate="adaptive", max_iter=1000, tol=None),
    ),
    "svm": ({"C": 2.0, "gamma": 0.1}, lambda c: SVC(**c, cache_size=200)),
    "rf": (
        {"max_depth": 10, "min_samples_split": 4, "max_features": 0.5, "min_samples_leaf": 2},
        # iris has 4 features: 4 ** 0.5 = 2 features per split
        lambda c: RandomForestClassifier(**{**c, "max_features": 2}, n_estimators=512, bootstrap=True),
    ),
    "histgb": (
        {"max_depth": 6, "max_leaf_nodes": 8, "learning_rate": 0.1, "l2_regularization": 1.0},
        lambda c: HistGradientBoostingClassifier(**c, max_iter=100, early_stopping=False),
    ),
    "nn": (
        {"depth": 2, "width": 32, "batch_size": 16, "alpha": 1e-4, "learning_rate_init": 1e-2},
        lambda c: MLPClassifier(
            hidden_layer_sizes=[32, 32], batch_size=16, alpha=1e-4, learning_rate_init=1e-2,
            activation="relu", solver="adam", max_iter=10,
        ),
    ),
}  # fmt: skip


def sklearn_objective(model="svm", dataset="iris", seed=0, *extra):
    cfg = compose_config(
        [
            "objective=sklearn",
            f"objective.model={model}",
            f"objective.dataset={dataset}",
            f"seed={seed}",
            "tuner=random",
            *extra,
        ]
    )
    return cfg, build_objective(cfg)


def iris_splits():
    """The split HPOBench's template makes, written with scikit-learn directly."""
    x, y = load_iris(return_X_y=True)
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=1
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=0.33, stratify=y_rest, random_state=1
    )
    return x_train, y_train, x_val, y_val


@pytest.mark.parametrize("model", sorted(CASES))
def test_each_model_reports_the_validation_error_scikit_learn_scores(model):
    config, estimator = CASES[model]
    _, objective = sklearn_objective(model, "iris", seed=7)
    evaluation = objective.evaluate(config)
    x_train, y_train, x_val, y_val = iris_splits()
    own = make_pipeline(StandardScaler(), estimator(config).set_params(random_state=7))
    own.fit(x_train, y_train)
    assert evaluation.value == pytest.approx(1 - own.score(x_val, y_val), abs=1e-12)
    assert evaluation.metrics["val_error"] == evaluation.value
    assert evaluation.metrics["fit_seconds"] > 0


@pytest.mark.parametrize("model", sorted(CASES))
def test_the_space_follows_the_model_and_is_hpobenchs(model):
    cfg, objective = sklearn_objective(model)
    space = build_search_space(cfg, objective)
    assert space is objective.search_space and space.name == f"hpobench_{model}"
    assert set(space.names) == set(CASES[model][0])
    assert space.validate(CASES[model][0])


def test_the_test_split_is_never_used_for_tuning():
    _, objective = sklearn_objective("svm", "iris")
    config = CASES["svm"][0]
    before = objective.evaluate(config).value
    splits = objective.splits
    objective.splits = dataclasses.replace(
        splits, x_test=np.full_like(splits.x_test, np.nan), y_test=np.full_like(splits.y_test, -1)
    )
    assert objective.evaluate(config).value == before  # the trial never read the test split
    with pytest.raises(ValueError, match="NaN"):
        objective.test(config)  # the end-of-study test reads it, and only it
    objective.splits = splits
    assert 0 <= objective.test(config)["test_error"] <= 1


def test_splits_are_disjoint_stratified_and_the_same_for_every_study_seed():
    _, first = sklearn_objective("svm", "wine", seed=0)
    _, second = sklearn_objective("svm", "wine", seed=5)
    a, b = first.splits, second.splits
    assert all(
        np.array_equal(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)
    )
    rows = [tuple(r) for r in np.concatenate([a.x_train, a.x_val, a.x_test])]
    assert len(rows) == len(set(rows)) == 178
    assert set(a.y_val) == set(a.y_test) == {0, 1, 2}


def test_trials_are_seeded_by_the_study_seed():
    config = CASES["rf"][0]
    first, again = (
        sklearn_objective("rf", "breast_cancer", 3)[1].evaluate(config) for _ in range(2)
    )
    assert first.value == again.value  # a random forest: the same only when seeded


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_dataset_has_its_description_in_the_prompt_intro(dataset):
    _, objective = sklearn_objective("svm", dataset)
    assert objective.task.intro.startswith(
        "You are helping tune hyperparameters for a support vector machine"
    )
    assert dataset in objective.task.intro


@pytest.mark.parametrize(
    ("override", "why"),
    [
        ("objective.model=xgb", r"objective.model='xgb' is not known.*histgb"),
        ("objective.dataset=mnist", r"objective.dataset='mnist'.*breast_cancer"),
        ("objective.val_fraction=1.5", "objective.val_fraction must be between 0 and 1"),
    ],
)
def test_a_bad_setting_is_named(override, why):
    cfg = compose_config(["objective=sklearn", "tuner=random", override])
    with pytest.raises(ConfigError, match=why):
        build_objective(cfg)


def test_a_study_tests_its_best_configuration_at_the_end(cli, tmp_path):
    result = cli(
        "objective=sklearn", "objective.dataset=iris", "tuner=random", "budget=3", "seed=2"
    )
    assert result.returncode == 0, result.stdout[-3000:]
    [summary_file] = (tmp_path / "outputs").glob("sklearn-svm-iris_random_seed2_*/summary.json")
    summary = json.loads(summary_file.read_text())
    assert summary["finished"] and 0 <= summary["test"]["test_error"] <= 1
    assert "test_error" not in summary["best_metrics"]  # measured once, never shown to the tuner


@pytest.mark.parametrize(
    ("model", "reports"), [("nn", True), ("histgb", True), ("lr", True), ("svm", False)]
)
def test_iterative_models_report_their_curve_and_its_last_point_is_the_value(model, reports):
    config, _ = CASES[model]
    _, objective = sklearn_objective(model, "iris", seed=7)
    curve = []
    with reporting_to(lambda step, value: curve.append([step, value]) and False):
        evaluation = objective.evaluate(config)
    if not reports:  # a model trained in one call reports nothing
        assert curve == []
        return
    steps = [step for step, _ in curve]
    assert steps == sorted(set(steps)) and len(steps) >= 2
    assert curve[-1][1] == pytest.approx(evaluation.value, abs=1e-12)
    assert objective.task.step_name in ("epoch", "boosting iteration")


@pytest.mark.parametrize("model", ["histgb", "lr"])
def test_a_model_fitted_in_stages_is_the_model_one_fit_trains(model):
    """Not only the same score: the same model (the score of 40 flowers could hide a change)."""
    config, estimator = CASES[model]
    _, objective = sklearn_objective(model, "iris", seed=7)
    x_train, y_train, x_val, _ = iris_splits()
    with reporting_to(lambda step, value: False):  # a study listens: the stages are fitted
        staged = objective._fit(config, x_train, y_train, report=True)
    own = make_pipeline(StandardScaler(), estimator(config).set_params(random_state=7))
    own.fit(x_train, y_train)
    np.testing.assert_array_equal(staged.predict_proba(x_val), own.predict_proba(x_val))


def test_lr_stages_grow_geometrically_to_the_full_fit():
    assert lr_stages(1000) == [1, 3, 10, 32, 100, 316, 1000]
    assert lr_stages(1) == [1] and lr_stages(5) == [1, 3, 5]


def sgd_epoch_logs(text: str) -> list[list[str]]:
    """scikit-learn's verbose SGD log, split per one-vs-rest class: each epoch's weight norm,
    bias, sample count and average loss."""
    per_class: list[list[str]] = []
    for match in re.finditer(r"-- Epoch (\d+)\n(Norm: [^\n]*?), Objective", text):
        if match.group(1) == "1":
            per_class.append([])
        per_class[-1].append(match.group(2))
    return per_class


def test_a_fit_of_k_sgd_epochs_is_the_first_k_epochs_of_the_full_fit(capsys):
    """What makes lr's staged curve exact: each stage is a fresh fit of k epochs, which must
    train the very weights the full fit had after its k-th epoch."""
    config, estimator = CASES["lr"]
    x_train, y_train, _, _ = iris_splits()
    features = StandardScaler().fit_transform(x_train)
    logs = {}
    for epochs in (10, 40):
        estimator(config).set_params(max_iter=epochs, random_state=7, verbose=1).fit(
            features, y_train
        )
        logs[epochs] = sgd_epoch_logs(capsys.readouterr().out)
    assert len(logs[40]) == 3 and [len(epochs) for epochs in logs[40]] == [40] * 3
    assert [epochs[:10] for epochs in logs[40]] == logs[10]
    assert logs[40][0][10] != logs[40][0][9]  # the log does move from epoch to epoch
