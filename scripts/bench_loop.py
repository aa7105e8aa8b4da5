"""The study loop's own cost on a cheap objective, against Optuna's loop in the same run (not a
test).

A 2-parameter quadratic takes microseconds, so what is measured is the loop: asking the
tuner, validating, appending the trial to the log, telling. llmhpo's Python API and Optuna's
`study.optimize` run the same number of trials with the same kind of sampler (random search,
TPE), and the ratio of their milliseconds per trial is printed, so the figures do not depend
on the machine; then each one's set-up (opening the study: for llmhpo, composing the tuner's
config with Hydra and claiming the folder) and the ratio of set-up and loop together.

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


def llmhpo_loop(tuner: str, trials: int, folder: Path) -> tuple[float, float]:
    """Seconds to open the study (composing the tuner's config, claiming the folder) and to
    run `trials` trials of llmhpo's Python API (its trial log included)."""
    started = time.perf_counter()
    study = llmhpo.Study(SPACE, tuner, budget=trials, seed=0, folder=folder)
    opened = time.perf_counter()
    study.optimize(lambda config: quadratic(config["x"], config["y"]))
    return opened - started, time.perf_counter() - opened


def optuna_loop(tuner: str, trials: int, folder: Path) -> tuple[float, float]:
    """The same for Optuna's own loop (in-memory storage, its default)."""
    started = time.perf_counter()
    sampler = (
        optuna.samplers.RandomSampler(seed=0)
        if tuner == "random"
        else optuna.samplers.TPESampler(seed=0, n_startup_trials=3)  # tuner=bo's default
    )
    study = optuna.create_study(sampler=sampler)
    opened = time.perf_counter()
    study.optimize(
        lambda t: quadratic(t.suggest_float("x", -5.0, 5.0), t.suggest_float("y", -5.0, 5.0)),
        n_trials=trials,
    )
    return opened - started, time.perf_counter() - opened


def medians(
    loop: Callable[[str, int, Path], tuple[float, float]], tuner: str, trials: int, repeats: int
) -> tuple[float, float]:
    """Median (set-up seconds, loop milliseconds per trial) over `repeats` runs."""
    setups, loops = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="llmhpo-bench-loop-") as folder:
            setup, seconds = loop(tuner, trials, Path(folder) / "study")
        setups.append(setup)
        loops.append(1000 * seconds / trials)
    return statistics.median(setups), statistics.median(loops)


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

    print(
        f"{'tuner':8} {'trials':>6} {'llmhpo ms/trial':>16} {'optuna ms/trial':>16} "
        f"{'ratio':>7} {'llmhpo set-up s':>16} {'optuna set-up s':>16} {'with set-up':>12}"
    )
    for tuner, trials in (("random", args.random_trials), ("bo", args.tpe_trials)):
        our_setup, ours = medians(llmhpo_loop, tuner, trials, args.repeats)
        their_setup, theirs = medians(optuna_loop, tuner, trials, args.repeats)
        whole = (our_setup + ours * trials / 1000) / (their_setup + theirs * trials / 1000)
        name = "tpe" if tuner == "bo" else tuner
        print(
            f"{name:8} {trials:>6} {ours:>16.3f} {theirs:>16.3f} {ours / theirs:>6.2f}x "
            f"{our_setup:>16.3f} {their_setup:>16.3f} {whole:>11.2f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
