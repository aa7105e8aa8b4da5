"""`tuner=hybrid`: an LLM and a Bayesian optimiser in one study, both told every result.

What the literature agrees on (LLAMBO, SLLMBO's LLM-TPE, "Centaur"): an LLM alone is
weakest once a study has results, and strongest at the start and as an advisor to a
classical optimiser. So:

- `warm_start=K`: the LLM proposes rounds 0..K-1 (its zero-shot start);
- `llm_share=P`: after that, each round is the LLM's with probability P, drawn from
  (seed, round) so that a resumed study chooses as an uninterrupted one; BO's otherwise;
- `advise=true`: in the LLM's rounds the prompt also shows what the BO tuner would propose
  next and the best result so far; the LLM may take it or propose another;
- an LLM round without a valid new proposal goes to BO (the LLM tuner's on_invalid=bo).

Each record says who proposed it (`proposer`: llm or bo) and why (`why`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from llmhpo.errors import ConfigError, Key
from llmhpo.objectives.base import TaskInfo
from llmhpo.space import SearchSpace
from llmhpo.store import HYBRID_DEFAULTS
from llmhpo.tuners.base import FrontTuner, Proposal
from llmhpo.tuners.llm import LLMTuner

SHARE_STREAM = 1  # the draws that pick a round's proposer, apart from the tuners' own


class HybridTuner(FrontTuner):
    """Routes each round to the LLM or the BO tuner; the LLM tuner owns the BO tuner (its
    fallback), and both hear every round."""

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        llm: dict[str, Any],
        prompt: dict[str, Any],
        budget: int,
        bo: dict[str, Any],
        warm_start: int = HYBRID_DEFAULTS["warm_start"],
        llm_share: float = HYBRID_DEFAULTS["llm_share"],
        advise: bool = HYBRID_DEFAULTS["advise"],
        name: str | None = None,
        task: TaskInfo | None = None,
        folder: Path | None = None,
        **llm_options: Any,
    ):
        """`llm_options`: the LLM tuner's own (max_attempts, allow_repeats,
        retry_temperature); its on_invalid is always bo."""
        if warm_start < 0:
            raise ConfigError(Key("tuner", "warm_start"), f" must be >= 0 rounds, got {warm_start}")
        if not 0.0 <= llm_share <= 1.0:
            why = f" must be a probability in [0, 1], got {llm_share}"
            raise ConfigError(Key("tuner", "llm_share"), why)
        if advise and bo.get("backend", "optuna") == "smac":
            raise ConfigError(
                Key("tuner", "advise", "true"), " needs an Optuna BO tuner (",
                Key("tuner", "bo.backend", "optuna"), ", sampler tpe or gp): asking SMAC for "
                "advice the LLM does not take would change SMAC's own sequence, so a resumed "
                "study could not replay it",
            )  # fmt: skip
        self.llm = LLMTuner(
            space, seed, llm, prompt, budget, on_invalid="bo", bo=bo, task=task, folder=folder,
            **llm_options,
        )  # fmt: skip
        super().__init__(space, seed, name or f"hybrid-{llm.get('model')}-{self.llm.bo.name}", task)
        self.warm_start = warm_start
        self.llm_share = llm_share
        self.advise = advise

    def ask(self) -> Proposal:
        proposer, why = self.proposer(self.round)
        if proposer == "bo":
            proposal = self.llm.bo.ask()
            info = {"proposer": "bo", "why": why, "bo": proposal.info}
            return Proposal(proposal.config, info, proposal.error)
        advice = self.llm.bo.ask() if self.advise else None
        proposal = self.llm.ask(advice=advice)
        if proposal.info.get("proposer") == "bo":
            why += "; the LLM had no valid new proposal"
        proposal.info["why"] = why
        return proposal

    def proposer(self, round_index: int) -> tuple[str, str]:
        """Who proposes `round_index` (llm or bo) and why: a function of the round and the
        seed alone."""
        if round_index < self.warm_start:
            return "llm", f"warm start (rounds 0 to {self.warm_start - 1})"
        draw = float(np.random.default_rng([self.seed, round_index, SHARE_STREAM]).random())
        if draw < self.llm_share:
            return "llm", f"share: draw {draw:.3f} < llm_share {self.llm_share}"
        return "bo", f"share: draw {draw:.3f} >= llm_share {self.llm_share}"

    @property
    def inner(self) -> LLMTuner:
        return self.llm
