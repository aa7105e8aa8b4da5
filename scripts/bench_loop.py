"""The study loop's own cost on a cheap objective, against Optuna's loop in the same run (not a
test).

A 2-parameter quadratic takes microseconds, so what is measured is the loop: asking the
tuner, validating, appending the trial to the log, telling. llmhpo's Python API and Optuna's
`study.optimize` run the same number of trials with the same kind of sampler (random search,
TPE), and the ratio of their milliseconds per trial is printed, so the figures do not depend
on the machine.

    python scripts/bench_loop.py                    # 1000 random, 300 TPE trials, 3 repeats
    python scripts/bench_loop.py --random-trials 200 --tpe-trials 50 --repeats 1
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import optuna

import llmhpo

SPACE = {
    "x": {"type": "float", "low": -5.0, "high": 5.0},
    "y": {"type": "float", "low": -5.0, "high": 5.0},
}


def quadratic(x: float, y: float) -> float:
    return (x - 1.0) ** 2 + (y + 2.0) ** 2


def llmhpo_loop(tuner: str, trials: int, folder: Path) -> float:
    """Seconds for `trials` trials of llmhpo's Python API (its trial log included)."""
    started = time.perf_counter()
    study = llmhpo.Study(SPACE, tuner, budget=trials, seed=0, folder=folder)
    study.optimize(lambda config: quadratic(config["x"], config["y"]))
    return time.perf_counter() - started


def optuna_loop(tuner: str, trials: int, folder: Path) -> float:
    """Seconds for `trials` trials of Optuna's own loop (in-memory storage, its default)."""
    sampler = (
        optuna.samplers.RandomSampler(seed=0)
        if tuner == "random"
        else optuna.samplers.TPESampler(seed=0, n_startup_trials=3)  # tuner=bo's default
    )
    started = time.perf_counter()
    study = optuna.create_study(sampler=sampler)
    study.optimize(
        lambda t: quadratic(t.suggest_float("x", -5.0, 5.0), t.suggest_float("y", -5.0, 5.0)),
        n_trials=trials,
    )
    return time.perf_counter() - started


def median_ms(
    loop: Callable[[str, int, Path], float], tuner: str, trials: int, repeats: int
) -> float:
    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="llmhpo-bench-loop-") as folder:
            times.append(loop(tuner, trials, Path(folder) / "study"))
    return 1000 * statistics.median(times) / trials


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--random-trials", type=int, default=1000)
    parser.add_argument("--tpe-trials", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each loop; the median")
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("llmhpo").setLevel(logging.WARNING)

    print(f"{'tuner':8} {'trials':>6} {'llmhpo ms/trial':>16} {'optuna ms/trial':>16} {'ratio':>7}")
    for tuner, trials in (("random", args.random_trials), ("bo", args.tpe_trials)):
        ours = median_ms(llmhpo_loop, tuner, trials, args.repeats)
        theirs = median_ms(optuna_loop, tuner, trials, args.repeats)
        name = "tpe" if tuner == "bo" else tuner
        print(f"{name:8} {trials:>6} {ours:>16.3f} {theirs:>16.3f} {ours / theirs:>6.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
