"""`tuner=random`: independent draws from the space (log-uniform where it says log)."""

from __future__ import annotations

from pathlib import Path

from llmhpo.objectives.base import TaskInfo
from llmhpo.space import SearchSpace
from llmhpo.tuners.base import Proposal, Tuner


class RandomTuner(Tuner):
    """Independent draws from the space, each from a generator seeded by (seed, round)."""

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        name: str = "random",
        task: TaskInfo | None = None,
        folder: Path | None = None,
    ):
        super().__init__(space, seed, name, task, folder)

    def ask(self) -> Proposal:
        return Proposal(self.space.sample(self.round_rng()))
