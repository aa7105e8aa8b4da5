"""A tuner of your own: a module (this file) and a YAML file (conf/tuner/greedy.yaml).

    python examples/own_tuner/tune_with_greedy.py

A tuner proposes the next configuration from what its study has settled so far
(`self.history`, in round order; `self.pending`: the rounds still out for evaluation), and
draws its randomness from `self.round_rng()`, which depends on the seed and the round only:
then a killed study resumes exactly, and the tuner contract test holds.
"""

from __future__ import annotations

from pathlib import Path

from llmhpo.objectives.base import TaskInfo
from llmhpo.space import SearchSpace
from llmhpo.tuners.base import Proposal, Tuner


# --8<-- [start:tuner] (the part docs/tuners.md shows)
class GreedyTuner(Tuner):
    """Random for `explore` rounds, then the best configuration so far, each parameter moved
    by a normal step of `step` times its range (kept in range). For float parameters only,
    as a small example: a real tuner handles each kind of the space's parameters."""

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        explore: int = 2,
        step: float = 0.1,
        name: str = "greedy",
        task: TaskInfo | None = None,
        folder: Path | None = None,
    ):
        super().__init__(space, seed, name, task, folder)
        self.explore, self.step = explore, step

    def ask(self) -> Proposal:
        rng = self.round_rng()
        finished = [r for r in self.history if r.status == "ok" and r.value is not None]
        if self.round < self.explore or not finished:
            return Proposal(self.space.sample(rng), {"proposer": "random"})
        best = min(finished, key=lambda r: r.value).config
        config = {}
        for name, param in self.space.params.items():
            moved = best[name] + rng.normal(0, self.step * (param.high - param.low))
            config[name] = min(max(moved, param.low), param.high)
        return Proposal(config, {"proposer": "greedy"})


# --8<-- [end:tuner]
