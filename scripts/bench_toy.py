"""Benchmark the tuners on the paper's toy suite (not a test).

Prints mean regret (best value so far minus the known minimum) after 10 and 30
evaluations for each tuner on each toy function, averaged over seeds, and the
mean seconds each tuner spends per proposal. Studies run through the same
`Study` loop as `python -m llmhpo.run`, in a temporary folder.

    python scripts/bench_toy.py                       # 10 seeds, 30 evaluations
    python scripts/bench_toy.py --seeds 3 --tuners random bo-tpe
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
from llmhpo.space import SearchSpace
from llmhpo.study import Study
from llmhpo.tuners.base import Tuner
from llmhpo.tuners.bo import OptunaTuner
from llmhpo.tuners.random import RandomTuner

TunerFactory = Callable[[SearchSpace, int], Tuner]
TUNERS: dict[str, TunerFactory] = {
    "random": lambda space, seed: RandomTuner(space, seed),
    "bo-tpe": lambda space, seed: OptunaTuner(space, seed, sampler="tpe"),
    "bo-gp": lambda space, seed: OptunaTuner(space, seed, sampler="gp"),
}


def run_one(folder: Path, function: str, tuner_name: str, seed: int, evals: int) -> dict:
    objective = ToyObjective(function)
    space = objective.search_space
    study = Study(folder, space, TUNERS[tuner_name](space, seed), objective, evals)
    started = time.perf_counter()
    study.run()
    records = study.trial_log.read()
    regrets = [r.metrics["regret"] for r in records]
    best = np.minimum.accumulate(regrets)
    return {
        "function": function,
        "tuner": tuner_name,
        "seed": seed,
        **{f"regret@{k}": best[k - 1] for k in (10, evals) if k <= evals},
        "seconds_per_proposal": sum(r.ask_seconds for r in records) / len(records),
        "wall_seconds": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--evals", type=int, default=30)
    parser.add_argument("--tuners", nargs="+", default=list(TUNERS), choices=list(TUNERS))
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
    speed = frame.groupby("tuner")["seconds_per_proposal"].mean().reindex(args.tuners)
    print("\nMean seconds per proposal\n")
    print(speed.to_string(float_format=lambda s: f"{s:.4f}"))


if __name__ == "__main__":
    main()
