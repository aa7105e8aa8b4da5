"""`objective=hpobench`: the paper's headline benchmark, HPOBench's MLP tables, offline.

For each of 8 OpenML datasets, every configuration of a 10 x 10 x 3 x 10 x 10 grid (alpha,
batch_size, depth, learning_rate_init, width) was trained with 5 seeds; a trial looks its
configuration up and reports one seed's validation error, drawn as every table's is
(objectives/tables.py).
"""

from __future__ import annotations

from typing import Any

from llmhpo.objectives.tables import TableObjective, table_space, value_range
from llmhpo.space import SearchSpace

# scikit-learn's MLPClassifier defaults (one hidden layer of 100, batch_size "auto" = 200,
# alpha 1e-4, learning_rate_init 1e-3), snapped to the table's grid by the space.
MLP_DEFAULT = {
    "alpha": 1e-4,
    "batch_size": 200,
    "depth": 1,
    "learning_rate_init": 1e-3,
    "width": 100,
}


def best_accuracy(dataset: str) -> float:
    """The highest validation accuracy anywhere in the table (any configuration, any seed)."""
    return 1.0 - value_range("hpobench", dataset)[0]


def grid_space(name: str = "hpobench-mlp") -> SearchSpace:
    """The table's grid, in the package's own parameter order and values."""
    return table_space("hpobench", name)


class HPOBenchObjective(TableObjective):
    """`objective=hpobench objective.dataset=australian`: a lookup in HPOBench's MLP table.

    The tuned value is the validation error, 1 - val_acc; the regret is measured from the
    table's lowest error (any configuration, any seed), so it is never negative.
    """

    def __init__(
        self,
        dataset: str,
        datasets: dict[str, dict[str, Any]],
        model_description: str,
        seed: int = 0,
        name: str | None = None,
    ):
        """`datasets`: name -> {openml_task, description} for every dataset of the table."""
        super().__init__("hpobench", dataset, datasets, model_description, seed,
                         name or f"hpobench-{dataset}", MLP_DEFAULT, "hpobench-mlp")  # fmt: skip
