"""Benchmark the tuners on the paper's toy suite (not a test).

Prints mean regret (best value so far minus the known minimum) after 10 and 30
evaluations for each tuner on each toy function, averaged over seeds, the median
best value after 10 evaluations, and per tuner the median seconds per proposal
(and, for LLM tuners, how often the first answer was accepted and how many rounds
fell back to random). Studies run through the same `StudyLoop` as
`python -m llmhpo.run`, in a temporary folder.

    python scripts/bench_toy.py      # random, bo-tpe, bo-gp, bo-smac: 10 seeds, 30 evaluations
    python scripts/bench_toy.py --tuners random llm-local --functions branin --seeds 5 --evals 10
    python scripts/bench_toy.py --tuners bo-tpe hybrid-local --versus bo-tpe --seeds 5

With --versus TUNER, each other tuner's mean regret minus TUNER's, per function, with a 95%
bootstrap interval over seeds: an interval wholly above 0 is worse beyond the seeds' noise.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from llmhpo.objectives.base import Objective
from llmhpo.objectives.toy import TOY_FUNCTIONS, ToyObjective
from llmhpo.results import stats
from llmhpo.study import StudyLoop
from llmhpo.tuners.base import Tuner
from llmhpo.tuners.bo import OptunaTuner
from llmhpo.tuners.hybrid import HybridTuner
from llmhpo.tuners.llm import LLMTuner
from llmhpo.tuners.random import RandomTuner
from llmhpo.tuners.smac import SMACTuner
from llmhpo.tuners.start import start_from

TunerFactory = Callable[[ToyObjective, int, int, Path], Tuner]
LOCAL_LLM = {"provider": "local", "model": "SmolLM2-135M-Instruct", "cache": False}
TUNERS: dict[str, TunerFactory] = {
    "random": lambda objective, seed, budget, folder: RandomTuner(objective.search_space, seed),
    # Random search whose first configuration is the space's default (a toy's domain centre).
    "random-default": lambda objective, seed, budget, folder: start_from(
        RandomTuner(objective.search_space, seed), objective.search_space, [], True
    ),
    "bo-tpe": lambda objective, seed, budget, folder: OptunaTuner(
        objective.search_space, seed, sampler="tpe"
    ),
    "bo-gp": lambda objective, seed, budget, folder: OptunaTuner(
        objective.search_space, seed, sampler="gp"
    ),
    "bo-smac": lambda objective, seed, budget, folder: SMACTuner(
        objective.search_space, seed, task=objective.task, folder=folder
    ),
    # The embedded model with the defaults of tuner=llm, except that rounds whose every answer
    # was rejected evaluate a random point (marked) instead of stopping the study.
    "llm-local": lambda objective, seed, budget, folder: local_llm_tuner(objective, seed, budget),
    # The model left to itself: repeats are evaluated as proposed, nothing is sent back.
    "llm-local-repeats": lambda objective, seed, budget, folder: local_llm_tuner(
        objective, seed, budget, allow_repeats=True
    ),
    # Rounds whose every answer was rejected evaluate what TPE (told every result) proposes.
    "llm-local-bo": lambda objective, seed, budget, folder: local_llm_tuner(
        objective, seed, budget, on_invalid="bo"
    ),
    # tuner=hybrid's defaults: 2 LLM rounds, then the LLM in 30% of the rounds, TPE otherwise.
    "hybrid-local": lambda objective, seed, budget, folder: HybridTuner(
        objective.search_space,
        seed,
        LOCAL_LLM,
        {"format": "compressed"},
        budget,
        bo={"backend": "optuna", "sampler": "tpe", "n_startup_trials": 3},
        task=objective.task,
    ),
}


def local_llm_tuner(objective: Objective, seed: int, budget: int, **settings) -> Tuner:
    """tuner=llm's defaults with the embedded model (scripts/bench_workers.py uses it too); a
    round whose every answer was rejected evaluates a random configuration (marked) instead
    of stopping the study, unless `settings` say otherwise."""
    return LLMTuner(
        objective.search_space,
        seed,
        LOCAL_LLM,
        {"format": "compressed"},
        budget,
        task=objective.task,
        **{"on_invalid": "random", **settings},
    )


def run_one(folder: Path, function: str, tuner_name: str, seed: int, evals: int) -> dict:
    objective = ToyObjective(function)
    tuner = TUNERS[tuner_name](objective, seed, evals, folder)
    study = StudyLoop(folder, objective.search_space, tuner, objective, evals)
    started = time.perf_counter()
    summary = study.run()
    records = study.trial_log.read()
    best = stats.best_so_far([r.metrics.get("regret") for r in records])
    values = stats.best_so_far([r.value for r in records])
    llm = summary.get("llm", {})
    return {
        "function": function,
        "tuner": tuner_name,
        "seed": seed,
        **{f"regret@{k}": best[k - 1] for k in (10, evals) if k <= evals},
        "best@10": values[min(10, evals) - 1],
        "proposal_seconds": [r.ask_seconds for r in records],
        "rounds": len(records),
        "llm_asked": sum("prompt_tokens" in r.tuner for r in records) if llm else None,
        "first_try_valid": llm.get("first_try_valid"),
        "fallbacks": llm.get("random_fallbacks", 0) + llm.get("bo_fallbacks", 0),
        "llm_rounds": summary.get("proposers", {}).get("llm"),
        "wall_seconds": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--evals", type=int, default=30)
    parser.add_argument(
        "--tuners",
        nargs="+",
        default=["random", "bo-tpe", "bo-gp", "bo-smac"],
        choices=list(TUNERS),
    )
    parser.add_argument(
        "--functions", nargs="+", default=list(TOY_FUNCTIONS), choices=list(TOY_FUNCTIONS)
    )
    parser.add_argument("--versus", choices=list(TUNERS), help="the tuner the others are held to")
    parser.add_argument("--jobs", type=int, default=1, help="studies run at once (processes)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        studies = [
            (Path(tmp) / f"{function}_{tuner_name}_{seed}", function, tuner_name, seed, args.evals)
            for function in args.functions
            for tuner_name in args.tuners
            for seed in range(args.seeds)
        ]
        if args.jobs > 1:
            with ProcessPoolExecutor(args.jobs) as pool:
                rows = list(pool.map(run_one, *zip(*studies, strict=True)))
        else:
            rows = [run_one(*study) for study in studies]
    frame = pd.DataFrame(rows)
    metrics = [c for c in frame.columns if c.startswith("regret@")]
    table = frame.groupby(["function", "tuner"], sort=False)[metrics].mean().unstack("tuner")
    table.columns = [f"{tuner} {metric}" for metric, tuner in table.columns]
    table = table[[f"{t} {m}" for m in metrics for t in args.tuners]]
    table.loc["(mean)"] = table.mean()
    print(f"Mean regret over {args.seeds} seeds (lower is better)\n")
    print(table.to_string(float_format=lambda v: f"{v:.3g}"))
    best = frame.groupby(["function", "tuner"], sort=False)["best@10"].median().unstack("tuner")
    print(f"\nMedian best value after 10 evaluations over {args.seeds} seeds\n")
    print(best[args.tuners].to_string(float_format=lambda v: f"{v:.3g}"))
    print("\nPer tuner\n")
    for tuner, rows in frame.groupby("tuner", sort=False):
        seconds = [s for row in rows["proposal_seconds"] for s in row]
        line = (
            f"{tuner:10} seconds per proposal: median {np.median(seconds):.4f}, "
            f"mean {np.mean(seconds):.4f}"
        )
        if rows["first_try_valid"].notna().any():
            first, rounds = int(rows["first_try_valid"].sum()), int(rows["llm_asked"].sum())
            line += (
                f"; first answer accepted in {first}/{rounds} rounds "
                f"({100 * first / rounds:.0f}%); fallbacks {rows['fallbacks'].sum()}"
            )
        if rows["llm_rounds"].notna().any():
            line += f"; rounds the LLM proposed {int(rows['llm_rounds'].sum())}"
        print(line)
        ended_early = int((rows["rounds"] < args.evals).sum())
        if ended_early:
            print(f"{'':10} {ended_early} studies ended before {args.evals} evaluations")
    if args.versus:
        print_versus(frame, args.versus, metrics)


def print_versus(frame: pd.DataFrame, baseline: str, metrics: list[str]) -> None:
    """Each tuner's mean regret minus the baseline's, per function, with a 95% bootstrap
    interval over seeds; and on how many functions the interval is wholly above 0."""
    curves = pd.DataFrame(
        [
            {"task": row["function"], "tuner": row["tuner"], "run": row["seed"],
             "k": int(metric.split("@")[1]), "best": row[metric]}
            for row in frame.to_dict("records") for metric in metrics
        ]
    )  # fmt: skip
    ks = sorted(curves["k"].unique())
    table = stats.versus(curves, baseline, ks)
    table["cell"] = [
        f"{d:+.3g} [{lo:+.3g}, {hi:+.3g}]"
        for d, lo, hi in zip(table["difference"], table["low"], table["high"], strict=True)
    ]
    cells = table.pivot(index=["task", "tuner"], columns="k", values="cell")
    cells.columns = [f"regret@{k}" for k in cells.columns]
    print(f"\nMean regret minus {baseline}'s, 95% bootstrap interval over seeds\n")
    print(cells.to_string())
    for tuner, counts in stats.versus_counts(table).iterrows():
        print(f"{tuner} regret@{counts['k']}: worse than {baseline} beyond the noise on "
              f"{counts['worse']} of {counts['tasks']} functions")  # fmt: skip


if __name__ == "__main__":
    main()
