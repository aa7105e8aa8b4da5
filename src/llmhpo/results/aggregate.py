"""Turn run and multirun folders into the paper's tables and plots.

    llmhpo-aggregate outputs/ --out results/
    llmhpo-aggregate 'outputs/multirun/*branin*' --out results/ --bootstrap 2000 --seed 1

(`python scripts/aggregate.py` in a checkout is the same command.)

Writes to --out: trials.csv (and trials.parquet with pyarrow), curves.csv (mean
best-so-far with a 95% bootstrap interval per task, tuner and evaluation count,
plus the paper's pooled random-search bootstrap), best_at_k.{md,csv},
vs_random.{md,csv} (share of tasks beating random search, relative change, mean
rank, normalised regret; --baseline picks random search's value, and the table
names it; for HPOBench and scikit-learn tasks at k=10 the paper's own figures
are a row of their own, labelled as the paper's), with --versus TUNER
versus.{md,csv} (per task, each tuner's mean best minus TUNER's with a 95%
bootstrap interval over seeds, and whether it is worse or better beyond the
noise) and versus_counts.{md,csv} (those verdicts counted across tasks),
totals.{md,csv} (tokens, cost, seconds per tuner), curves/*.png (and curves.png, every
task in one figure, where there are several), and, for toy
functions, paths/*.png. Where trials reported curves (or with --cost seconds),
best_at_cost.{md,csv} (the best value reached within a quarter, half and all of what
every study of the task spent, in epochs or seconds, with a 95% bootstrap interval: a
pruned study beside a full one at equal cost) and cost/*.png. A pruned study is
named with its pruner (random+asha), apart from the full one. Problems with runs
are printed and saved to problems.txt; they never stop the aggregation.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from llmhpo.objectives.toy import TOY_FUNCTIONS
from llmhpo.results import stats
from llmhpo.results.load import load_runs_into, results_parser
from llmhpo.results.plots import plot_cost, plot_curve_grid, plot_curves, plot_path, safe_name

# Objectives whose suites reproduce the paper's HPOBench experiment: vs_random shows its figures.
TABULAR = ("HPOBenchObjective", "SklearnObjective")


def main(argv: list[str] | None = None) -> int:
    parser = results_parser(__doc__)
    parser.add_argument(
        "--bootstrap", type=int, default=1000, help="bootstrap draws (default 1000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of every bootstrap")
    parser.add_argument(
        "--baseline",
        choices=stats.BASELINES,
        default="auto",
        help="random search's value in vs_random: the per-seed random studies ('random'), the "
        "pooled bootstrap of every random configuration ('pooled'), or per task the per-seed "
        "studies where they reach k and the pooled curve where they are shorter ('auto', "
        "the default: single-trial random seeds, as the paper ran them, give the pooled one)",
    )
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 3, 5, 10])
    parser.add_argument(
        "--versus",
        metavar="TUNER",
        help="the tuner (as the tables name it) every other is compared with, task by task, "
        "with a bootstrap interval over seeds: e.g. bo-tpe for the hybrid",
    )
    parser.add_argument("--max-paths", type=int, default=20, help="toy search-path plots at most")
    parser.add_argument(
        "--cost",
        choices=stats.COSTS,
        default="steps",
        help="what best_at_cost measures a study's spending in: the steps its trials reported "
        "(epochs; a trial without a curve counts 1) or its objective's seconds",
    )
    args = parser.parse_args(argv)

    loaded = load_runs_into(args.paths, args.out)
    if loaded is None:
        return 1
    trials = loaded.trials
    write_table(trials, args.out / "trials", markdown=False)

    curves = stats.run_curves(trials)
    summary = stats.summarise_curves(curves, seed=args.seed, n_boot=args.bootstrap)
    pooled = stats.pooled_random(
        trials, int(curves["k"].max()), seed=args.seed, n_boot=args.bootstrap
    )
    if not pooled.empty:  # no random search here: an empty frame would make every column object
        summary = pd.concat([summary, pooled], ignore_index=True)
    summary.to_csv(args.out / "curves.csv", index=False)

    budget = int(trials["budget"].max())
    ks = sorted({k for k in [*args.ks, budget] if k <= curves["k"].max()})
    write_table(stats.at_k(summary, ks), args.out / "best_at_k")
    minima = stats.optima(trials)
    comparisons = [stats.compare_to_random(summary, k, minima, args.baseline) for k in ks]
    comparisons = [c for c in comparisons if not c.empty]
    if comparisons:
        table = pd.concat(comparisons)
        if trials["objective"].isin(TABULAR).any() and 10 in ks:
            table = stats.with_paper_row(table)
        write_table(table, args.out / "vs_random")
        print(f"vs_random (best value against random search, across tasks):\n{to_markdown(table)}")
    if args.versus:
        write_versus(curves, args.versus, ks, args)
    write_table(stats.totals(trials), args.out / "totals")
    if trials["steps"].notna().any() or args.cost == "seconds":
        write_costs(trials, args)

    (args.out / "curves").mkdir(exist_ok=True)
    for task in sorted(summary["task"].unique()):
        plot_curves(summary, task, args.out / "curves" / f"{safe_name(task)}.png")
    if summary["task"].nunique() > 1:
        plot_curve_grid(summary, args.out / "curves.png")
    plot_toy_paths(trials, args.out / "paths", args.max_paths)
    print(
        f"wrote {args.out}: {trials['run'].nunique()} runs, {len(trials)} trials, "
        f"{len(loaded.problems)} problem(s)"
    )
    return 0


def write_costs(trials: pd.DataFrame, args: argparse.Namespace) -> None:
    """best_at_cost and a plot per task of the best value against the cost spent: pruned
    studies beside full ones.

    The table's budgets are a quarter, half and all of what every study of the task spent
    (the least any spent): within them no study had stopped, so none is judged on cost it
    never had the budget for. The plot goes on to the largest study's spending."""
    curves = stats.cost_curves(trials, args.cost)
    (args.out / "cost").mkdir(exist_ok=True)
    shown = []
    for task, group in curves.groupby("task", sort=True):
        spent = group.groupby("run")["cost"].max()
        budgets = (spent.min() / 4, spent.min() / 2, spent.min())
        grid = sorted({*np.linspace(spent.max() / 20, spent.max(), 20), *budgets})
        table = stats.best_at_cost(group, grid, seed=args.seed, n_boot=args.bootstrap)
        shown.append(table[table["cost"].isin(budgets)])
        plot_cost(table, task, args.cost, args.out / "cost" / f"{safe_name(task)}.png")
    at_budgets = pd.concat(shown).set_index(["task", "tuner"])  # the rows' names, not a number
    write_table(at_budgets, args.out / "best_at_cost")
    print(f"best_at_cost ({args.cost} spent):\n{to_markdown(at_budgets)}")


def write_versus(
    curves: pd.DataFrame, baseline: str, ks: list[int], args: argparse.Namespace
) -> None:
    """versus.{md,csv} and versus_counts.{md,csv}; a baseline no run has is named as a problem,
    with the tuners there are."""
    if baseline not in set(curves["tuner"]):
        names = ", ".join(sorted(curves["tuner"].unique()))
        print(f"problem: --versus {baseline}: no run of that tuner; the tuners are {names}",
              file=sys.stderr)  # fmt: skip
        return
    table = stats.versus(curves, baseline, ks, seed=args.seed, n_boot=args.bootstrap)
    if table.empty:
        return
    write_table(table.set_index("task"), args.out / "versus")
    counts = stats.versus_counts(table)
    write_table(counts, args.out / "versus_counts")
    print(f"versus {baseline} (tasks where each tuner is worse or better beyond the seeds' "
          f"noise):\n{to_markdown(counts)}")  # fmt: skip


def plot_toy_paths(trials: pd.DataFrame, folder: Path, limit: int) -> None:
    toy = trials[trials["function"].isin(list(TOY_FUNCTIONS)) & trials["x1"].notna()]
    for count, (run, group) in enumerate(toy.groupby("run", sort=True)):
        if count >= limit:
            break
        folder.mkdir(exist_ok=True)
        group = group.sort_values("round")
        points = list(zip(group["x1"].astype(float), group["x2"].astype(float), strict=True))
        function = TOY_FUNCTIONS[group["function"].iloc[0]]
        plot_path(function, points, run, folder / f"{safe_name(run)}.png")


def write_table(frame: pd.DataFrame, stem: Path, markdown: bool = True) -> None:
    frame.to_csv(stem.with_suffix(".csv"))
    if markdown:
        stem.with_suffix(".md").write_text(to_markdown(frame) + "\n")
    else:
        with contextlib.suppress(ImportError):  # Parquet only where pyarrow is installed
            frame.to_parquet(stem.with_suffix(".parquet"))


def to_markdown(frame: pd.DataFrame) -> str:
    """A Markdown table without tabulate (pandas' to_markdown needs it)."""
    frame = frame.reset_index()
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    body = [
        "| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *body])


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    sys.exit(main())
