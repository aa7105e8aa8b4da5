"""`tuner=centaur`: CMA-ES and an LLM in one study, CMA-ES the critic and the LLM the actor
(Centaur, arXiv 2603.24647; its code: ferreirafabio/autoresearch-automl,
`backends/centaur_backend.py`).

CMA-ES (Optuna's CmaEsSampler) is asked every round. After a warm-up of `llm_warmup` rounds,
every round(1 / llm_ratio)-th round goes to the LLM, whose prompt holds CMA-ES's state (its
mean in the space's units, its step size sigma, and its covariance over the float and
integer parameters, with a sentence on how to read it), CMA-ES's own proposal for the round,
the best configurations so far, the last 20 trials and the best one. The LLM's
configuration replaces CMA-ES's in that round's trial (the trial keeps its place in CMA-ES's
generation), so CMA-ES learns from what was evaluated. An LLM round without a valid answer
evaluates CMA-ES's own proposal, marked as the fallback. Like the paper's code, the LLM
decodes at temperature 0.7 and may propose a configuration already evaluated.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from llmhpo.errors import ConfigError, Key
from llmhpo.llm.base import Message, Sampling
from llmhpo.objectives.base import TaskInfo
from llmhpo.space import SearchSpace
from llmhpo.store import Ledger
from llmhpo.tuners.base import Owns, Proposal, Tuner, every_round
from llmhpo.tuners.llm.tuner import LLMTuner
from llmhpo.tuners.optuna_space import distributions, space_value

HISTORY_SHOWN = 20  # the last trials in the prompt, as the paper's code shows them
TOP_SHOWN = 5  # the best configurations in CMA-ES's analysis


class CentaurTuner(LLMTuner):
    """CMA-ES asked every round; every `round(1 / llm_ratio)`-th round after `llm_warmup`,
    the LLM proposes from CMA-ES's state, and its configuration replaces CMA-ES's."""

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        llm: dict[str, Any],
        prompt: dict[str, Any],
        budget: int,
        template: str,
        llm_ratio: float = 0.3,
        llm_warmup: int = 10,
        temperature: float = 0.7,
        n_startup_trials: int = 1,
        max_attempts: int = 3,
        allow_repeats: bool = True,
        retry_temperature: float = 1.0,
        name: str | None = None,
        task: TaskInfo | None = None,
        folder: Path | None = None,
    ):
        """`template`: the LLM's prompt, with the fields {intro}, {goal}, {space},
        {cma_analysis}, {history} and {incumbent} (conf/tuner/centaur.yaml holds the
        paper's, for any task)."""
        if not 0.0 <= llm_ratio <= 1.0:
            raise ConfigError(Key("tuner", "llm_ratio"), f" must be in [0, 1], got {llm_ratio}")
        if llm_warmup < 0:
            raise ConfigError(Key("tuner", "llm_warmup"), f" must be >= 0, got {llm_warmup}")
        cma = {"backend": "optuna", "sampler": "cmaes", "n_startup_trials": n_startup_trials,
               "adopt": True}  # fmt: skip
        super().__init__(
            space, seed, llm, prompt, budget, max_attempts, on_invalid="bo",
            allow_repeats=allow_repeats, retry_temperature=retry_temperature, bo=cma,
            name=name or f"centaur-{llm.get('model')}", task=task, folder=folder,
        )  # fmt: skip
        self.template = template
        self.llm_ratio, self.llm_warmup, self.temperature = llm_ratio, llm_warmup, temperature

    def attach(self, ledger: Ledger, owns: Owns = every_round) -> None:
        """CMA-ES was asked for every round, the LLM's too: every round is its own."""
        Tuner.attach(self, ledger, owns)
        self.bo.attach(ledger, owns)

    def llm_round(self, round_index: int) -> bool:
        """Whether the LLM proposes `round_index`: after the warm-up, every
        round(1 / llm_ratio)-th round (the paper's rule)."""
        if round_index < self.llm_warmup or self.llm_ratio <= 0:
            return False
        return round_index % max(1, round(1.0 / self.llm_ratio)) == 0

    def ask(self) -> Proposal:
        cma = self.bo.ask()
        if not self.llm_round(self.round):
            return Proposal(cma.config, {"proposer": "cmaes", "bo": cma.info}, cma.error)
        proposal = super().ask(advice=cma)
        if proposal.info.get("fallback") == "bo":  # CMA-ES's own proposal, named as such
            proposal.info["fallback"] = proposal.info["proposer"] = "cmaes"
        return proposal

    def _request(
        self,
        attempt: int,
        rejected: list[tuple[str, str]],
        rng: np.random.Generator,
        advice: Proposal | None,
    ) -> tuple[list[Message], Sampling | None]:
        """The paper's one user message; a retry adds each rejected answer and its reason."""
        assert advice is not None and advice.config is not None, "CMA-ES proposes every round"
        messages: list[Message] = [{"role": "user", "content": self._prompt(advice.config)}]
        for answer, reason in rejected:
            again = f"{reason}. Respond ONLY with a valid JSON object mapping hyperparameter "
            again += "names to values."
            messages.append({"role": "assistant", "content": answer})
            messages.append({"role": "user", "content": again})
        temperature = self.temperature if attempt == 0 else self.retry_temperature
        return messages, Sampling(temperature, int(rng.integers(2**31 - 1)))

    def _prompt(self, suggestion: dict[str, Any]) -> str:
        task = self.prompts.task
        return self.template.format(
            intro=self.prompts.intro(),
            goal=f"{task.direction} the {task.goal_phrase}",
            space=self.space.describe(),
            cma_analysis=self._cma_analysis(suggestion),
            history=self._history_text(),
            incumbent=self._incumbent_text(),
        )

    def _cma_analysis(self, suggestion: dict[str, Any]) -> str:
        state = cma_state(self.bo.study, self.space)
        lines = ["## CMA-ES Advisor Analysis"]
        if state is None:
            lines.append(
                "CMA-ES is still initializing (not enough trials for covariance estimation)."
            )
            lines.append(f"\nCMA-ES's next suggestion: {json.dumps(suggestion)}")
            return "\n".join(lines)
        lines.append(
            f"CMA-ES has run {len(self.history)} trials (sigma={state['sigma']:.4f}, "
            "smaller=more focused)."
        )
        lines.append(f"\nCMA-ES's mean: {json.dumps(state['mean'])}")
        lines.append(f"\nCMA-ES's next suggestion: {json.dumps(suggestion)}")
        finished = sorted(
            (r for r in self.history if r.status == "ok" and r.value is not None),
            key=lambda r: r.value,
        )
        if finished:
            lines.append(f"\nTop {min(TOP_SHOWN, len(finished))} configurations so far:")
            for rank, record in enumerate(finished[:TOP_SHOWN], start=1):
                result = self.prompts.result_text(record)
                lines.append(f"  {rank}. {result}: {json.dumps(record.config)}")
        names = state["names"]
        order = ", ".join(f"{i}={name}" for i, name in enumerate(names))
        warped = "log" + ("- or logit" if any(getattr(p, "logit", False) for p in
                                              self.space.params.values()) else "")  # fmt: skip
        lines.append(
            f"\nCMA-ES covariance matrix ({len(names)}x{len(names)}), over the float and "
            f"integer hyperparameters, each scaled to [0, 1] ({warped}-scaled first where the "
            f"space is on a {warped} scale). This matrix describes how the hyperparameters "
            "co-vary in the "
            "learned search distribution. Positive off-diagonal entries mean those "
            "hyperparameters tend to increase together in good regions; negative entries mean "
            f"they trade off. Row/column order: {order}."
        )
        lines.append(np.array2string(state["cov"], precision=4, suppress_small=True))
        return "\n".join(lines)

    def _history_text(self) -> str:
        lines = []
        for record in self.history[-HISTORY_SHOWN:]:
            if record.config is None:
                continue  # an invalid round: nothing was evaluated
            lines.append(f"  {json.dumps(record.config)} → {self.prompts.result_text(record)}")
        return "\n".join(lines) or "(no evaluations yet)"

    def _incumbent_text(self) -> str:
        finished = [r for r in self.history if r.status == "ok" and r.value is not None]
        if not finished:
            return ""
        best = min(finished, key=lambda r: r.value)
        result = self.prompts.result_text(best)
        return f"Current best config ({result}):\n{json.dumps(best.config, indent=2)}"


def cma_state(study: Any, space: SearchSpace) -> dict[str, Any] | None:
    """CMA-ES's state as its last stored optimizer holds it (Optuna's CmaEsSampler pickles it
    into a trial's system attributes when a generation is told): its mean in the space's
    units, its step size sigma and its covariance (over the float and integer parameters,
    in alphabetical order, each scaled to [0, 1]); None before the first generation ends."""
    from optuna._transform import _SearchSpaceTransform
    from optuna.distributions import CategoricalDistribution

    for trial in reversed(study.get_trials(deepcopy=False)):
        parts = {key: value for key, value in trial.system_attrs.items()
                 if key.startswith("cma:optimizer:")}  # fmt: skip
        if not parts:
            continue
        pickled = "".join(parts[f"cma:optimizer:{i}"] for i in range(len(parts)))
        optimizer = pickle.loads(bytes.fromhex(pickled))
        modelled = {
            name: distribution
            for name, distribution in sorted(distributions(space).items())
            if not isinstance(distribution, CategoricalDistribution)
        }
        mean = _SearchSpaceTransform(modelled, transform_0_1=True).untransform(optimizer._mean)
        for name, value in mean.items():  # a grid position as its value, log-odds as a fraction
            mean[name] = space_value(space.params[name], value)
        return {
            "names": list(modelled),
            "mean": {name: _plain(value) for name, value in mean.items()},
            "sigma": float(optimizer._sigma),
            "cov": np.asarray(optimizer._C),
        }
    return None


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
