"""`objective=bayesmark`: the scikit-learn tasks LLAMBO reports, run as LLAMBO ran them.

Bayesmark's five models (RandomForest, DecisionTree, SVM, AdaBoost, MLP_SGD) on its five
small datasets (breast, digits, iris, wine: accuracy; diabetes: mean squared error), with
LLAMBO's data split, spaces, starting configurations and Bayesmark's normalisation bounds
shipped in `data/bayesmark/` (from tennisonliu/LLAMBO, MIT licence; see its README). The
facts follow LLAMBO's `exp_bayesmark/run_bayesmark.py` and `bayesmark/bbox_utils.py`:

- a trial's `score` is the mean of 5-fold `cross_val_score` on the training split (the
  accuracy, or the mean squared error of targets standardised by the training split's mean
  and deviation), and its `test_score` (LLAMBO's `generalization_score`) the same scorer
  on the test split of a model fit on the whole training split: recorded for every trial,
  never shown to a tuner;
- the tuned value is the cross-validated error rate (1 - accuracy) or mean squared error;
- every tuner starts from the first `n_initial` (5) configurations of its seed's list, as
  every method in LLAMBO's experiments does; then it proposes.

Every model fixes its `random_state` (0) or has none to fix (SVR), so a configuration
scores the same in any process: LLAMBO's `np.random.seed` before each evaluation changes
nothing and is left out. AdaBoost's classifier differs from LLAMBO's runs: scikit-learn
1.6 removed the `SAMME.R` algorithm its version used by default.
"""

from __future__ import annotations

import functools
import json
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from llmhpo.errors import ConfigError
from llmhpo.objectives.base import Evaluation, TaskInfo, error_rate_task, tuning_intro
from llmhpo.space import SearchSpace

MODELS = ("RandomForest", "DecisionTree", "SVM", "AdaBoost", "MLP_SGD")
DATASETS = {"breast": "accuracy", "digits": "accuracy", "iris": "accuracy",
            "wine": "accuracy", "diabetes": "mse"}  # fmt: skip
SEEDS = 10  # starting-configuration lists shipped: seeds 0-9
LIST_LENGTH = 10  # configurations in each list


def data_dir() -> Path:
    return Path(str(resources.files("llmhpo.objectives") / "data" / "bayesmark"))


@functools.cache
def spaces() -> dict[str, dict[str, Any]]:
    """LLAMBO's five spaces, `[type, warping, [low, high]]` per parameter."""
    return json.loads((data_dir() / "spaces.json").read_text())


@functools.cache
def bounds() -> dict[str, dict[str, float]]:
    """Bayesmark's normalisation bounds per dataset (its global min and max score); iris has
    none."""
    return json.loads((data_dir() / "global_perf.json").read_text())


def bayesmark_space(model: str) -> SearchSpace:
    """One model's space in llmhpo's terms (`log` and `logit` warpings as scales)."""
    parameters = {}
    for name, (kind, warping, (low, high)) in spaces()[model].items():
        parameters[name] = {"type": kind, "low": low, "high": high, "scale": warping}
    return SearchSpace.from_dict(parameters, name=f"bayesmark_{model}")


def starting_configs(model: str, seed: int) -> list[dict[str, Any]]:
    """The seed's list of starting configurations, in LLAMBO's order."""
    path = data_dir() / "init_configs" / model / f"{seed}.json"
    return json.loads(path.read_text())


@functools.cache
def load_split(dataset: str) -> dict[str, np.ndarray]:
    with np.load(data_dir() / "data" / f"{dataset}.npz") as arrays:
        return {key: arrays[key] for key in ("train_x", "train_y", "test_x", "test_y")}


def estimator(model: str, regression: bool, config: dict[str, Any]) -> Any:
    """Bayesmark's estimator with LLAMBO's fixed arguments and `config`."""
    from sklearn import ensemble, neural_network, svm, tree

    if model == "RandomForest":
        kind = ensemble.RandomForestRegressor if regression else ensemble.RandomForestClassifier
        return kind(n_estimators=10, max_leaf_nodes=None, random_state=0, **config)
    if model == "DecisionTree":
        kind = tree.DecisionTreeRegressor if regression else tree.DecisionTreeClassifier
        return kind(max_leaf_nodes=None, random_state=0, **config)
    if model == "SVM":
        if regression:
            return svm.SVR(kernel="rbf", **config)
        return svm.SVC(kernel="rbf", probability=True, random_state=0, **config)
    if model == "AdaBoost":
        kind = ensemble.AdaBoostRegressor if regression else ensemble.AdaBoostClassifier
        return kind(random_state=0, **config)
    fixed = {
        "solver": "sgd",
        "early_stopping": True,
        "max_iter": 40,
        "learning_rate": "invscaling",
        "nesterovs_momentum": True,
        "random_state": 0,
    }
    if regression:
        return neural_network.MLPRegressor(activation="tanh", **fixed, **config)
    return neural_network.MLPClassifier(**fixed, **config)


class BayesmarkObjective:
    """`objective=bayesmark objective.model=SVM objective.dataset=breast`."""

    def __init__(
        self,
        model: str,
        dataset: str,
        models: dict[str, str],
        datasets: dict[str, str],
        seed: int = 0,
        n_initial: int = 5,
        worst_mse: float = 10.0,
        name: str | None = None,
    ):
        """`models`, `datasets`: name -> the description an LLM is told; `worst_mse`: what a
        failed regression trial costs a tuner that needs a number (SMAC)."""
        if model not in MODELS:
            raise ConfigError(f"objective.model={model!r} is not one of Bayesmark's {list(MODELS)}")
        if dataset not in DATASETS:
            raise ConfigError(
                f"objective.dataset={dataset!r} is not one of Bayesmark's {list(DATASETS)}"
            )
        if not 0 <= n_initial <= LIST_LENGTH:
            raise ConfigError(
                f"objective.n_initial must be 0 to {LIST_LENGTH} (a list's length), got {n_initial}"
            )
        if n_initial and not 0 <= seed < SEEDS:
            raise ConfigError(
                f"Bayesmark's starting configurations exist for seeds 0 to {SEEDS - 1}, not "
                f"{seed}; choose such a seed, or objective.n_initial=0 to start without them"
            )
        self.model, self.dataset = model, dataset
        self.regression = DATASETS[dataset] == "mse"
        self.model_description = models[model]
        self.dataset_description = datasets[dataset]
        self.worst_mse = float(worst_mse)
        self.name = name or f"bayesmark-{model}-{dataset}"
        self.search_space = bayesmark_space(model)
        # What every tuner evaluates first (the study's assembly starts the tuner from them).
        self.initial_configs = starting_configs(model, seed)[:n_initial] if n_initial else []
        self.test = self._test

    @property
    def task(self) -> TaskInfo:
        if not self.regression:
            return error_rate_task(self.model_description, self.dataset_description)
        return TaskInfo(
            intro=tuning_intro(f"{self.model_description} trained on {self.dataset_description}"),
            feedback=(("Mean Squared Error", "score"),),
            feedback_phrase="cross-validated mean squared error",
            goal_phrase="mean squared error",
            worst_value=self.worst_mse,
            best_value=0.0,
        )

    def evaluate(self, config: dict[str, Any]) -> Evaluation:
        score, test_score = self.scores(config)
        if not (np.isfinite(score) and np.isfinite(test_score)):
            raise ValueError(f"the model scored {score} (cross-validated), {test_score} (test)")
        value = score if self.regression else 1.0 - score
        metrics = {"score": score, "test_score": test_score}
        if not self.regression:
            metrics["val_error"] = value
        return Evaluation(value, metrics)

    def _test(self, config: dict[str, Any]) -> dict[str, Any]:
        return {"test_score": self.scores(config)[1]}

    def scores(self, config: dict[str, Any]) -> tuple[float, float]:
        """LLAMBO's `score` and `generalization_score` of one configuration."""
        from sklearn.metrics import get_scorer
        from sklearn.model_selection import cross_val_score

        split = load_split(self.dataset)
        x_train, y_train, x_test, y_test = (
            split[k] for k in ("train_x", "train_y", "test_x", "test_y")
        )
        if self.regression:  # standardised by the training split, as LLAMBO's runner does
            mean, deviation = np.mean(y_train), np.std(y_train)
            y_train, y_test = (y_train - mean) / deviation, (y_test - mean) / deviation
        scorer = get_scorer("neg_mean_squared_error" if self.regression else "accuracy")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence warnings of a 40-epoch MLP, as LLAMBO
            folds = cross_val_score(estimator(self.model, self.regression, config), x_train,
                                    y_train, scoring=scorer, cv=5)  # fmt: skip
            fitted = estimator(self.model, self.regression, config).fit(x_train, y_train)
            test_score = float(scorer(fitted, x_test, y_test))
        score = float(np.mean(folds))
        if self.regression:
            return -score, -test_score
        return score, test_score
