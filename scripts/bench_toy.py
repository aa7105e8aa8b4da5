"""Benchmark the tuners on the paper's toy suite (not a test).

Prints mean regret (best value so far minus the known minimum) after 10 and 30
evaluations for each tuner on each toy function, averaged over seeds, the median
best value after 10 evaluations, and per tuner the median seconds per proposal
(and, for LLM tuners, how often the first answer was accepted and how many rounds
fell back to random). Studies run through the same `Study` loop as
`python -m llmhpo.run`, in a temporary folder.

    python scripts/bench_toy.py      # random, bo-tpe, bo-gp, bo-smac: 10 seeds, 30 evaluations
    python scripts/bench_toy.py --tuners random llm-local --functions branin --seeds 5 --evals 10
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from llmhpo.objectives.toy import TOY_FUNCTIONS, ToyObjective
from llmhpo.results.stats import best_so_far
from llmhpo.study import Study
from llmhpo.tuners.base import Tuner
from llmhpo.tuners.bo import OptunaTuner
from llmhpo.tuners.llm import LLMTuner
from llmhpo.tuners.random import RandomTuner
from llmhpo.tuners.smac import SMACTuner

TunerFactory = Callable[[ToyObjective, int, int, Path], Tuner]
LOCAL_LLM = {"provider": "local", "model": "SmolLM2-135M-Instruct", "cache": False}
TUNERS: dict[str, TunerFactory] = {
    "random": lambda objective, seed, budget, folder: RandomTuner(objective.search_space, seed),
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
    "llm-local": lambda objective, seed, budget, folder: _local_llm(objective, seed, budget),
    # The model left to itself: repeats are evaluated as proposed, nothing is sent back.
    "llm-local-repeats": lambda objective, seed, budget, folder: _local_llm(
        objective, seed, budget, allow_repeats=True
    ),
}


def _local_llm(objective: ToyObjective, seed: int, budget: int, **settings) -> Tuner:
    return LLMTuner(
        objective.search_space,
        seed,
        LOCAL_LLM,
        {"format": "compressed"},
        budget,
        task=objective.task,
        on_invalid="random",
        **settings,
    )


def run_one(folder: Path, function: str, tuner_name: str, seed: int, evals: int) -> dict:
    objective = ToyObjective(function)
    tuner = TUNERS[tuner_name](objective, seed, evals, folder)
    study = Study(folder, objective.search_space, tuner, objective, evals)
    started = time.perf_counter()
    summary = study.run()
    records = study.trial_log.read()
    best = best_so_far([r.metrics.get("regret") for r in records])
    values = best_so_far([r.value for r in records])
    llm = summary.get("llm", {})
    return {
        "function": function,
        "tuner": tuner_name,
        "seed": seed,
        **{f"regret@{k}": best[k - 1] for k in (10, evals) if k <= evals},
        "best@10": values[min(10, evals) - 1],
        "proposal_seconds": [r.ask_seconds for r in records],
        "rounds": len(records),
        "first_try_valid": llm.get("first_try_valid"),
        "fallbacks": llm.get("random_fallbacks", 0),
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
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for function in args.functions:
            for tuner_name in args.tuners:
                for seed in range(args.seeds):
                    folder = Path(tmp) / f"{function}_{tuner_name}_{seed}"
                    rows.append(run_one(folder, function, tuner_name, seed, args.evals))
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
            first, rounds = int(rows["first_try_valid"].sum()), int(rows["rounds"].sum())
            line += (
                f"; first answer accepted in {first}/{rounds} rounds "
                f"({100 * first / rounds:.0f}%); random fallbacks {rows['fallbacks'].sum()}"
            )
        print(line)


if __name__ == "__main__":
    main()
