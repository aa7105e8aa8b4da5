"""`llmhpo-leaderboard`: run folders of many benchmarks -> one leaderboard, its plots and
every study as a CSV.

    llmhpo-leaderboard outputs/multirun --out results/leaderboard

Writes to --out:
- leaderboard.md: per tuner, the mean normalised regret and mean rank at each --ks
  evaluation count (and at the largest budget), the share of tasks it beats random search
  on at 10 evaluations (the paper's measure), the mean regret's 95% bootstrap interval
  (seeds resampled within each task), the regret per benchmark at each of those counts,
  the paired tests against each --baselines tuner, and, for Bayesmark, each study's best
  configuration's cross-validated and test scores;
- regret.csv (`low` and `high`: the interval), ranks.csv (every k), pairs.csv,
  generalisation.csv, scales.csv (each task's optimum and reference value, and where they
  come from);
- rank.png (mean rank against evaluations) and regret.png (mean normalised regret, with its
  interval as a band);
- runs/<task>/<tuner>/<seed>.csv: every study as LLAMBO's repository publishes its runs
  (one row per trial: the configuration's columns, `score` and `generalization_score`;
  `score` is Bayesmark's cross-validated score, elsewhere the tuned value).
Problems with runs are printed and saved to problems.txt; they never stop it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from llmhpo.extras import MissingExtraError, require
from llmhpo.objectives.bayesmark import DATASETS
from llmhpo.objectives.benchmarks import split_task
from llmhpo.results import leaderboard as board
from llmhpo.results.aggregate import to_markdown
from llmhpo.results.load import load_runs_into, results_parser
from llmhpo.results.plots import plot_lines, safe_name

BASELINES = ("random+default", "bo-tpe+default")


def main(argv: list[str] | None = None) -> int:
    parser = results_parser(__doc__)
    parser.add_argument(
        "--ks",
        type=int,
        nargs="+",
        default=[10],
        help="evaluation counts of the tables (the largest budget is added)",
    )
    parser.add_argument(
        "--baselines", nargs="+", default=list(BASELINES),
        help="tuners every other is tested against (default: default-first random search and "
        "TPE); on a task where one ran no study, the same tuner without '+default' stands in",
    )  # fmt: skip
    parser.add_argument(
        "--bootstrap", type=int, default=1000, help="bootstrap draws (default 1000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    parser.add_argument("--tuners", nargs="+", help="only these tuners' studies (as named in the "
                        "tables, e.g. random bo-tpe); default: every tuner found")  # fmt: skip
    args = parser.parse_args(argv)
    try:  # the tables' optima and the paired tests
        require("bench", "llmhpo-leaderboard")
    except MissingExtraError as error:
        print(error, file=sys.stderr)
        return 2

    loaded = load_runs_into(args.paths, args.out)
    if loaded is None:
        return 1
    trials = loaded.trials
    if args.tuners:
        trials = trials[trials["tuner"].isin(args.tuners)]
        if trials.empty:
            print(f"no trials of {', '.join(args.tuners)} in the runs found", file=sys.stderr)
            return 1

    scales = board.scales(trials)
    curves = board.normalised(board.study_curves(trials), scales)
    largest = int(curves["k"].max())
    ks = sorted({k for k in [*args.ks, largest] if k <= largest})
    ranks = board.mean_ranks(curves)
    regret = board.mean_regret(curves, seed=args.seed, n_boot=args.bootstrap)
    pairs = pd.concat(
        [board.paired_tests(curves, name, k, fallback=name.removesuffix("+default"))
         for name in args.baselines if name in set(curves["tuner"]) for k in ks]
        or [pd.DataFrame()]
    )  # fmt: skip
    generalisation = generalisation_table(trials)

    scales.to_csv(args.out / "scales.csv")
    regret.to_csv(args.out / "regret.csv", index=False)
    ranks.to_csv(args.out / "ranks.csv", index=False)
    pairs.to_csv(args.out / "pairs.csv", index=False)
    generalisation.to_csv(args.out / "generalisation.csv")
    plot_lines(ranks, "rank", "mean rank (1 is best)", args.out / "rank.png")
    positive = bool((regret["regret"] > 0).all())  # else (Bayesmark's bounds passed) linear
    plot_lines(regret, "regret", "mean normalised regret", args.out / "regret.png", positive)
    export_runs(trials, args.out / "runs")

    text = leaderboard_markdown(trials, curves, scales, ks, regret, pairs, generalisation)
    (args.out / "leaderboard.md").write_text(text)
    print(text)
    print(f"wrote {args.out}: {trials['run'].nunique()} studies, {len(trials)} trials, "
          f"{len(loaded.problems)} problem(s)")  # fmt: skip
    return 0


def summary_table(curves: pd.DataFrame, ks: list[int]) -> pd.DataFrame:
    """Per tuner: studies, tasks, mean normalised regret and mean rank at each k, and the
    share of tasks it beats random search on at 10 evaluations."""
    table = curves.groupby("tuner").agg(studies=("run", "nunique"), tasks=("task", "nunique"))
    for k in ks:
        reached = board.at(curves, k)
        table[f"regret@{k}"] = reached.groupby("tuner")["regret"].mean()
        table[f"rank@{k}"] = board.mean_ranks(reached.assign(k=k)).set_index("tuner")["rank"]
    if int(curves["k"].max()) >= 10:
        table["beats random@10"] = board.beats_random_share(curves, 10)
    return table.sort_values(f"rank@{ks[-1]}")


def interval_table(regret: pd.DataFrame, ks: list[int]) -> pd.DataFrame:
    """Per tuner and k: the mean regret and its interval as one cell, "0.607 [0.552, 0.664]"."""
    chosen = regret[regret["k"].isin(ks)]
    cells = [f"{r.regret:.4g} [{r.low:.4g}, {r.high:.4g}]" for r in chosen.itertuples()]
    table = chosen.assign(cell=cells).pivot(index="tuner", columns="k", values="cell")
    return table.rename(columns=lambda k: f"regret@{k}")


def uneven_note(curves: pd.DataFrame) -> list[str]:
    """A warning, when the tuners ran different sets of tasks: mean ranks are then taken
    among different competitors and do not compare."""
    tasks = curves.groupby("tuner")["task"].nunique()
    everywhere = curves["task"].nunique()
    fewer = tasks[tasks < everywhere]
    if fewer.empty:
        return []
    return [
        "Not every tuner ran every task ("
        + ", ".join(f"{tuner}: {count} of {everywhere}" for tuner, count in fewer.items())
        + "). Each rank is among the tuners that ran that task, so compare the ranks of "
        "tuners that ran the same tasks, or choose them with --tuners.",
        "",
    ]


def family_table(curves: pd.DataFrame, k: int) -> pd.DataFrame:
    """Mean normalised regret at k, per tuner and benchmark."""
    reached = board.at(curves, k).copy()
    reached["benchmark"] = [family if parts else "other"
                            for family, parts in map(split_task, reached["task"])]  # fmt: skip
    return reached.pivot_table(index="tuner", columns="benchmark", values="regret", aggfunc="mean")


def generalisation_table(trials: pd.DataFrame) -> pd.DataFrame:
    """For the Bayesmark studies: each study's best configuration (by its cross-validated
    score), its mean CV score and test score per tuner and scorer (accuracy and mean squared
    error are never averaged together)."""
    scored = trials[(trials["status"] == "ok") & trials["test_score"].notna()]
    if scored.empty:
        return pd.DataFrame()
    best = scored.loc[scored.groupby("run")["value"].idxmin()].copy()
    best["scorer"] = [DATASETS.get(parts[-1], "score") if parts else "score"
                      for _, parts in map(split_task, best["task"])]  # fmt: skip
    return best.groupby(["tuner", "scorer"]).agg(
        studies=("run", "nunique"), cv_score=("score", "mean"), test_score=("test_score", "mean")
    )


def leaderboard_markdown(
    trials: pd.DataFrame,
    curves: pd.DataFrame,
    scales: pd.DataFrame,
    ks: list[int],
    regret: pd.DataFrame,
    pairs: pd.DataFrame,
    generalisation: pd.DataFrame,
) -> str:
    families = pd.Series([split_task(t)[0] for t in scales.index]).value_counts().sort_index()
    lines = [
        "# Leaderboard",
        "",
        f"{trials['run'].nunique()} studies: {len(scales)} tasks ("
        + ", ".join(f"{name} {count}" for name, count in families.items())
        + f"), {curves['tuner'].nunique()} tuners, seeds "
        + ", ".join(str(s) for s in sorted(trials["seed"].dropna().unique()))
        + ".",
        "",
        "Normalised regret: 0 at the task's optimum, 1 at its reference value (the tables' "
        "least and median value, Bayesmark's bounds, else the least and median value "
        "observed; scales.csv). Rank: within each task and seed, 1 is best.",
        "",
        to_markdown(summary_table(curves, ks).round(4)),
        "",
        *uneven_note(curves),
        "## Mean normalised regret with 95% bootstrap intervals",
        "",
        "Over the studies that reached k; the interval resamples the seeds within each task, "
        "the tasks held fixed.",
        "",
        to_markdown(interval_table(regret, ks)),
    ]
    for k in ks:
        lines += [
            "",
            f"## Mean normalised regret per benchmark at {k} evaluations",
            "",
            to_markdown(family_table(curves, k).round(4)),
        ]

    if not pairs.empty:
        lines += [
            "",
            "## Paired tests against the baselines",
            "",
            "Pairs: (task, seed) both ran; a win is a lower normalised regret. p: two-sided "
            "Wilcoxon signed-rank test (zero differences dropped); p_holm: Holm's correction "
            "over the tuners compared with the same baseline at the same k.",
            "",
            to_markdown(pairs.set_index("tuner").round({"median_difference": 4})),
        ]
    if not generalisation.empty:
        lines += [
            "",
            "## Bayesmark: the best configuration's cross-validated and test scores",
            "",
            "Each study's best configuration by its 5-fold CV score (tuned on), and its score "
            "on the test split (never shown to a tuner), averaged per scorer: accuracy (higher "
            "is better), and the MSE of diabetes (lower is better).",
            "",
            to_markdown(generalisation.round(4)),
        ]
    return "\n".join(lines) + "\n"


def export_runs(trials: pd.DataFrame, folder: Path) -> None:
    """Every study as one CSV in the shape LLAMBO publishes its runs."""
    for (task, tuner, seed), group in trials.groupby(["task", "tuner", "seed"]):
        group = group.sort_values("round")
        configs = pd.DataFrame([json.loads(c) or {} for c in group["config"]])
        score = group["score"].where(group["score"].notna(), group["value"]).to_numpy()
        configs["score"] = np.where(group["status"].to_numpy() == "ok", score, np.nan)
        configs["generalization_score"] = group["test_score"].to_numpy()
        path = folder / safe_name(str(task)) / safe_name(str(tuner)) / f"{seed}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        configs.to_csv(path, index=False)


if __name__ == "__main__":
    sys.exit(main())
