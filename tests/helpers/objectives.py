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
