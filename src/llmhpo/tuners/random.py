"""`tuner=random`: independent draws from the space (log-uniform where it says log)."""

from __future__ import annotations

from llmhpo.space import SearchSpace
from llmhpo.tuners.base import Proposal, Tuner


class RandomTuner(Tuner):
    def __init__(self, space: SearchSpace, seed: int, name: str = "random"):
        super().__init__(space, seed, name)

    def ask(self) -> Proposal:
        return Proposal(self.space.sample(self.round_rng()))
