"""`objective=sklearn`: HPOBench's models trained live on data that ships with scikit-learn.

The models and spaces are HPOBench's (`hpobench/benchmarks/ml/*_benchmark.py`), with their
fixed settings in `conf/objective/sklearn.yaml` and their spaces in
`conf/search_space/hpobench_*.yaml`. As in HPOBench's `ml_benchmark_template.py`, features
are standardised (fitted on the training split only), a third of the training split is held
out for validation (stratified, with a fixed seed, the same for every study), and the
tuned value is the validation error. The test split is measured only for the study's best
configuration at its end, refitted on training + validation data as HPOBench's
`objective_function_test` does.

Three models report a learning curve as they train (`llmhpo.report`, what a pruner judges),
each trained exactly as without it (a test holds each equal to a plain fit):
- `nn`: its validation error after each epoch, from the hook scikit-learn's MLP calls at
  each epoch's end;
- `histgb`: after each `HISTGB_STEP` boosting iterations, grown in stages with
  `warm_start`, which adds the same trees one fit would;
- `lr` (SGDClassifier): after 1, 3, 10, 32, 100, 316 and 1,000 epochs (`lr_stages`). Its
  epochs run inside one compiled call, so each point is a fresh fit of that many epochs:
  scikit-learn's SGD decides each epoch from the seed and the epochs before it only, so a
  fit of k epochs is the first k epochs of the full fit (a test compares their per-epoch
  logs), and the last stage is the full fit. The curve costs about 1.46 fits (1,462
  epochs for 1,000); a pruned trial stops after a fraction of that. Outside a study
  (nobody `listening`) the stages are skipped: one fit gives the same model.
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from llmhpo.errors import ConfigError
from llmhpo.objectives.base import Evaluation, TaskInfo, error_rate_task
from llmhpo.progress import listening, report
from llmhpo.space import SearchSpace

DATASETS = ("breast_cancer", "digits", "wine", "iris")
HISTGB_STEP = 10  # boosting iterations between two points of histgb's curve
# The models that report a curve, and what their steps count.
STEP_NAMES = {"nn": "epoch", "histgb": "boosting iteration", "lr": "epoch"}


@dataclass(frozen=True)
class Splits:
    """Features and labels of the three splits; the test split is only read by `test`."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def library_default(model: str, splits: Splits) -> dict[str, Any]:
    """scikit-learn's own defaults for the model, in HPOBench's parameters (for
    tuner.start_at_default): where a default lies outside HPOBench's space or is not a number
    of it, its nearest equivalent, as each line says."""
    n_features = splits.x_train.shape[1]
    if model == "lr":  # SGDClassifier
        return {"alpha": 1e-4, "eta0": 0.01}
    if model == "svm":  # SVC: gamma="scale" is 1 / (n_features * variance of the inputs)
        from sklearn.preprocessing import StandardScaler

        variance = float(StandardScaler().fit_transform(splits.x_train).var())
        return {"C": 1.0, "gamma": 1.0 / (n_features * variance)}
    if model == "rf":  # RandomForestClassifier
        return {
            "max_depth": 50,  # None (unlimited): the space's deepest
            "min_samples_split": 2,
            "max_features": 0.5,  # "sqrt": n_features ** 0.5 in HPOBench's exponent
            "min_samples_leaf": 1,
        }
    if model == "histgb":  # HistGradientBoostingClassifier
        return {
            "max_depth": 30,  # None (unlimited): the space's deepest
            "max_leaf_nodes": 31,
            "learning_rate": 0.1,
            "l2_regularization": 2**-10,  # 0.0: the log-scaled space's smallest
        }
    if model == "nn":  # MLPClassifier: one hidden layer of 100, batch_size="auto"
        batch = min(200, len(splits.y_train))
        return {
            "depth": 1,
            "width": 100,
            "batch_size": batch,
            "alpha": 1e-4,
            "learning_rate_init": 1e-3,
        }
    raise ConfigError(f"no library default is known for objective.model={model!r}")


def load_splits(dataset: str, test_fraction: float, val_fraction: float, split_seed: int) -> Splits:
    """scikit-learn's bundled dataset, split stratified into train / validation / test."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    if dataset not in DATASETS:
        raise ConfigError(
            f"objective.dataset={dataset!r} is not bundled with scikit-learn; choose one of "
            f"{list(DATASETS)}"
        )
    for key, fraction in (("test_fraction", test_fraction), ("val_fraction", val_fraction)):
        if not 0 < fraction < 1:
            raise ConfigError(f"objective.{key} must be between 0 and 1, got {fraction}")
    x, y = getattr(datasets, f"load_{dataset}")(return_X_y=True)
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=test_fraction, stratify=y, random_state=split_seed
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=val_fraction, stratify=y_rest, random_state=split_seed
    )
    return Splits(x_train, y_train, x_val, y_val, x_test, y_test)


def _rf_arguments(config: dict[str, Any], n_features: int) -> dict[str, Any]:
    """HPOBench's max_features is an exponent: n_features ** max_features features per split."""
    return {**config, "max_features": int(np.rint(np.power(n_features, config["max_features"])))}


def _nn_arguments(config: dict[str, Any], n_features: int) -> dict[str, Any]:
    """HPOBench's depth and width: `depth` hidden layers of `width` units."""
    rest = {k: v for k, v in config.items() if k not in ("depth", "width")}
    return {**rest, "hidden_layer_sizes": [config["width"]] * config["depth"]}


# How a configuration becomes estimator arguments where it is not one-to-one.
ARGUMENTS: dict[str, Callable[[dict[str, Any], int], dict[str, Any]]] = {
    "rf": _rf_arguments,
    "nn": _nn_arguments,
}


class SklearnObjective:
    """`objective=sklearn objective.model=svm objective.dataset=breast_cancer`."""

    def __init__(
        self,
        model: str,
        dataset: str,
        models: dict[str, dict[str, Any]],
        spaces: dict[str, dict[str, Any]],
        datasets: dict[str, dict[str, Any]],
        seed: int = 0,
        test_fraction: float = 0.2,
        val_fraction: float = 0.33,
        split_seed: int = 1,
        name: str | None = None,
    ):
        """`models`: name -> {estimator (a `_target_` node with the fixed settings),
        description}; `spaces`: name -> search-space config; `datasets`: name ->
        {description}."""
        if model not in models or model not in spaces:
            raise ConfigError(
                f"objective.model={model!r} is not known; choose one of {sorted(models)}"
            )
        if dataset not in datasets:
            raise ConfigError(
                f"objective.dataset={dataset!r} has no description in objective.datasets; "
                f"choose one of {sorted(datasets)}"
            )
        self.model = model
        self.estimator_cfg = dict(models[model]["estimator"])
        self.model_description = models[model]["description"]
        self.dataset_description = datasets[dataset]["description"]
        self.seed = int(seed)
        self.name = name or f"sklearn-{model}-{dataset}"
        self.splits = load_splits(dataset, test_fraction, val_fraction, split_seed)
        space = SearchSpace.from_config(spaces[model])
        self.search_space = space.with_default(library_default(model, self.splits))

    @property
    def task(self) -> TaskInfo:
        task = error_rate_task(self.model_description, self.dataset_description)
        return replace(task, step_name=STEP_NAMES.get(self.model, task.step_name))

    def make_model(self, config: dict[str, Any]) -> Any:
        """A fresh pipeline: standardisation, then the estimator with the configuration, its
        fixed settings and the study's seed."""
        from hydra.utils import instantiate
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        translate = ARGUMENTS.get(self.model)
        arguments = translate(config, self.splits.x_train.shape[1]) if translate else config
        estimator = instantiate(self.estimator_cfg, **arguments, random_state=self.seed)
        return make_pipeline(StandardScaler(), estimator)

    def evaluate(self, config: dict[str, Any]) -> Evaluation:
        s = self.splits
        started = time.perf_counter()
        model = self._fit(config, s.x_train, s.y_train, report=True)
        fit_seconds = time.perf_counter() - started
        error = 1.0 - float(model.score(s.x_val, s.y_val))
        return Evaluation(error, {"val_error": error, "fit_seconds": fit_seconds})

    def test(self, config: dict[str, Any]) -> dict[str, Any]:
        """The test error of `config`, refitted on training + validation data (HPOBench)."""
        s = self.splits
        model = self._fit(
            config, np.concatenate([s.x_train, s.x_val]), np.concatenate([s.y_train, s.y_val])
        )
        return {"test_error": 1.0 - float(model.score(s.x_test, s.y_test))}

    def _fit(
        self, config: dict[str, Any], x: np.ndarray, y: np.ndarray, report: bool = False
    ) -> Any:
        """Fit quietly: with capped iterations (see the config) not converging is expected.
        With `report`, the models that can report their validation error as they train."""
        from sklearn.exceptions import ConvergenceWarning

        model = self.make_model(config)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if report and self.model == "nn":
                _report_each_epoch(model, self.splits.x_val, self.splits.y_val)
            if report and self.model in STAGES and listening():
                return _fit_in_stages(
                    model, x, y, self.splits.x_val, self.splits.y_val, *STAGES[self.model]
                )
            return model.fit(x, y)


def _report_each_epoch(model: Any, x_val: np.ndarray, y_val: np.ndarray) -> None:
    """Make the pipeline's MLP report its validation error after each epoch, from the hook its
    training loop calls at every epoch's end (a private method of scikit-learn's MLP, whose
    presence a test checks): training is the same as without it."""
    scaler, mlp = model[0], model[-1]
    hook = mlp._update_no_improvement_count
    # The validation features, scaled once: the pipeline fits the scaler before the MLP.
    scaled = functools.cache(lambda: scaler.transform(x_val))

    def after_epoch(*args: Any) -> None:
        hook(*args)
        report(mlp.n_iter_, 1.0 - float(mlp.score(scaled(), y_val)))

    mlp._update_no_improvement_count = after_epoch


def histgb_stages(total: int) -> list[int]:
    """Boosting iterations at which histgb's curve has a point: every HISTGB_STEP, and the last."""
    return [*range(HISTGB_STEP, total, HISTGB_STEP), total]


def lr_stages(total: int) -> list[int]:
    """Epochs at which lr's curve has a point: about 3.16x apart (1, 3, 10, 32, ...), and the
    last. Each is a fresh fit, so the curve costs the sum; a geometric series keeps it to
    about 1.46 fits while giving a pruner points from the first epoch on."""
    stages: list[int] = []
    while (epochs := round(10 ** (len(stages) / 2))) < total:
        stages.append(epochs)
    return [*stages, total]


# Models fitted in stages of their `max_iter`, and whether a stage continues the last one
# (histgb: `warm_start` adds trees) or fits afresh (lr: SGD cannot resume its shuffles).
STAGES: dict[str, tuple[Callable[[int], list[int]], bool]] = {
    "histgb": (histgb_stages, True),
    "lr": (lr_stages, False),
}


def _fit_in_stages(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    stages: Callable[[int], list[int]],
    warm_start: bool,
) -> Any:
    """Fit the pipeline's estimator to `max_iter` in `stages`, reporting the
    validation error after each (at the iterations really done, `n_iter_`); the fitted
    pipeline, the same as one fit to `max_iter`. The features are scaled once."""
    scaler, estimator = model[0], model[-1]
    features, x_val = scaler.fit_transform(x), scaler.transform(x_val)
    estimator.set_params(warm_start=warm_start)
    for stage in stages(estimator.max_iter):
        estimator.set_params(max_iter=stage).fit(features, y)
        report(estimator.n_iter_, 1.0 - float(estimator.score(x_val, y_val)))
        if estimator.n_iter_ < stage:  # it stopped by itself (a `tol`): later stages repeat this
            break
    return model
