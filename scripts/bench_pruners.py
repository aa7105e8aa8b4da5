"""What a pruner saves: pruned studies against full ones of the same tuner and seed, at equal
cost (not a test).

Reads run folders (a multirun of `pruner=none` studies beside `pruner=asha,hyperband` ones of
the same tasks, tuners and seeds, the pruned ones with a larger trial budget) and, for each
pruned study, takes its full twin (same task, tuner and seed, `pruner=none`): E, the epochs
(steps reported) the full study spent, and B, its best value. It prints per pruner and tuner,
across tasks and seeds: how often the pruned study reached B within E epochs, the median
fraction of E it saved doing so (1 - epochs to reach B / E; 0 where it never did), and the
mean of (best within E epochs) - B (negative: the pruned study found better for the same
epochs).

    python -m llmhpo.run -m objective=sklearn objective.model=nn \\
        objective.dataset=iris,wine,breast_cancer,digits tuner=random,bo pruner=none \\
        budget=20 seed='range(5)' hydra/launcher=joblib hydra.sweep.dir=outputs/multirun/pruners
    python -m llmhpo.run -m objective=sklearn objective.model=nn \\
        objective.dataset=iris,wine,breast_cancer,digits tuner=random,bo pruner=asha,hyperband \\
        budget=40 seed='range(5)' hydra/launcher=joblib hydra.sweep.dir=outputs/multirun/pruners
    python scripts/bench_pruners.py outputs/multirun/pruners
"""

from __future__ import annotations

import argparse
import statistics
import sys

import pandas as pd

from llmhpo.pruning import PRUNERS
from llmhpo.results.aggregate import to_markdown
from llmhpo.results.load import load_runs
from llmhpo.results.stats import cost_curves


def twins(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per pruned study: its task, base tuner, pruner and seed, the full twin's
    epochs E and best B, the epochs the pruned study took to reach B (None if it never did)
    and its best within E epochs."""
    suffix = rf"\+({'|'.join(p for p in PRUNERS if p != 'none')})$"  # as pruner_suffix names it
    trials = trials.assign(
        pruner=trials["tuner"].str.extract(suffix, expand=False).fillna("none"),
        base=trials["tuner"].str.replace(suffix, "", regex=True),
    )
    seeds = trials.groupby("run")[["base", "pruner", "seed"]].first()
    curves = cost_curves(trials, "steps").merge(seeds, left_on="run", right_index=True)
    full = (
        curves[curves["pruner"] == "none"]
        .groupby(["task", "base", "seed"])
        .agg(epochs=("cost", "max"), best=("best", "min"))
    )
    rows = []
    pruned = curves[curves["pruner"] != "none"]
    for (task, base, pruner, seed), group in pruned.groupby(["task", "base", "pruner", "seed"]):
        if (task, base, seed) not in full.index:
            continue
        epochs, best = full.loc[(task, base, seed)]
        reached = group[group["best"] <= best]["cost"]
        within = group[group["cost"] <= epochs]["best"]
        rows.append(
            {"task": task, "tuner": base, "pruner": pruner, "seed": seed, "epochs": epochs,
             "best": best, "epochs_to_best": reached.min() if len(reached) else None,
             "best_within_epochs": within.min() if len(within) else None}
        )  # fmt: skip
    return pd.DataFrame(rows)


def summary(table: pd.DataFrame, by: tuple[str, ...] = ("tuner", "pruner")) -> pd.DataFrame:
    """The comparison per group of pruned studies (per tuner and pruner, by default)."""
    rows = []
    for keys, group in table.groupby(list(by), sort=True):
        reached = group["epochs_to_best"].notna() & (group["epochs_to_best"] <= group["epochs"])
        saved = [
            1 - row.epochs_to_best / row.epochs if ok else 0.0
            for row, ok in zip(group.itertuples(), reached, strict=True)
        ]
        gap = (group["best_within_epochs"] - group["best"]).dropna()
        rows.append(
            {**dict(zip(by, keys, strict=True)), "studies": len(group),
             "reached_full_best_within_its_epochs": f"{int(reached.sum())}/{len(group)}",
             "median_epochs_saved": round(statistics.median(saved), 3),
             "mean_best_within_epochs_minus_full_best": round(float(gap.mean()), 4)}
        )  # fmt: skip
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="run or multirun folders, or globs")
    parser.add_argument("--by-task", action="store_true", help="also per task and pruner")
    parser.add_argument(
        "--per-study", action="store_true", help="also each pruned study beside its full twin"
    )
    args = parser.parse_args(argv)
    loaded = load_runs(args.paths)
    for problem in loaded.problems:
        print(f"problem: {problem}", file=sys.stderr)
    if loaded.trials.empty or loaded.trials["steps"].isna().all():
        print("no trials with curves found", file=sys.stderr)
        return 1
    table = twins(loaded.trials)
    if table.empty:
        print("no pruned study has a full twin (same task, tuner and seed)", file=sys.stderr)
        return 1
    print(to_markdown(summary(table).set_index(["tuner", "pruner"])))
    if args.by_task:
        print()
        print(to_markdown(summary(table, ("task", "pruner")).set_index(["task", "pruner"])))
    if args.per_study:
        print()
        keys = ["task", "tuner", "pruner", "seed"]
        print(to_markdown(table.sort_values(keys).set_index(keys).round(4)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
