"""Objectives that tests need and the package does not ship."""

from llmhpo.objectives.base import Evaluation
from llmhpo.objectives.toy import ToyObjective


class FlakyObjective:
    """Branin, except that the rounds listed in `fail_on` raise or return NaN."""

    name = "flaky"
    test = None

    def __init__(self, fail_on=(), nan_on=()):
        self.inner = ToyObjective("branin")
        self.fail_on, self.nan_on = set(fail_on), set(nan_on)
        self.calls = 0

    @property
    def search_space(self):
        return self.inner.search_space

    @property
    def task(self):
        return self.inner.task

    def evaluate(self, config):
        self.calls += 1
        if self.calls - 1 in self.fail_on:
            raise RuntimeError("simulated crash in the trial")
        if self.calls - 1 in self.nan_on:
            return Evaluation(float("nan"))
        return self.inner.evaluate(config)


CURVE_STEPS = 6


def learning_curve(final: float, steps: int = CURVE_STEPS, pause: float = 0.0) -> float:
    """A toy learning curve for the Python API's pruners: reports `final + 10 / step` after
    each step (of `pause` seconds) through `llmhpo.report` and returns the last point."""
    import time

    import llmhpo

    for step in range(1, steps + 1):
        if pause:
            time.sleep(pause)
        llmhpo.report(step, final + 10.0 / step)
    return final + 10.0 / steps


def curve_studies(root, plan, seeds=(0, 1)) -> None:
    """Random-search studies of a 1-D quadratic's learning curve under `root`, one folder per
    (pruner, budget) of `plan` and seed, named `{pruner}{seed}`."""
    import llmhpo

    space = {"x": {"type": "float", "low": -5.0, "high": 5.0}}
    for pruner, budget in plan:
        for seed in seeds:
            study = llmhpo.Study(
                space, "random", budget=budget, seed=seed, folder=root / f"{pruner}{seed}",
                pruner=pruner, name="quadratic",
            )  # fmt: skip
            study.optimize(lambda config: learning_curve((config["x"] - 1) ** 2))


def square(config):
    """(x - 1)^2: a function a worker process can import (tests/ is not on its path)."""
    return (config["x"] - 1.0) ** 2


def slow_square_curve(config):
    """(x - 1)^2's learning curve, a step every quarter second, for a pruner to act on from
    another process while the trial still runs."""
    return learning_curve((config["x"] - 1.0) ** 2, pause=0.25)


def timed_square(config):
    """(x - 1)^2 after a pause as long as x's distance from 0 (up to 1 s), each run's start
    and end appended to the file TIMES_FILE names: when trials ran beside each other."""
    import json
    import os
    import time

    start = time.time()
    time.sleep(0.2 + abs(config["x"]) / 5)
    with open(os.environ["TIMES_FILE"], "a") as file:
        file.write(json.dumps([start, time.time()]) + "\n")
    return (config["x"] - 1.0) ** 2


def hangs_above_zero(config):
    """x after half a second; where x > 0, after a minute (a hung trial)."""
    import time

    time.sleep(60 if config["x"] > 0 else 0.5)
    return config["x"]


def omp_threads(config):
    """The OMP_NUM_THREADS the trial's process started with (-1 where unset)."""
    import os

    return float(os.environ.get("OMP_NUM_THREADS", "-1"))
