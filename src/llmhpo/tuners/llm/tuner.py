"""`tuner=llm`: the paper's method. An LLM reads the task, the space and every result so far
and proposes the next configuration as JSON.

Each round: build the request from the trial log, ask, read the JSON out of the
answer, validate it against the space, and reject a configuration that was
already evaluated (unless `allow_repeats`); a rejected answer goes back to the
LLM with the reason, up to `max_attempts` times. When every attempt fails the
round is logged as invalid with all answers, and `on_invalid` decides: `fail`
stops the study, `random` evaluates a random configuration marked as such, `bo`
evaluates what a Bayesian optimiser (`bo`: as for tuner=bo) proposes, one that
has heard every result of the study (null: `random` for the embedded model,
`fail` for remote providers). Each record's `proposer` says whose configuration
was evaluated: llm, random or bo.

The first attempt of a round decodes as configured (temperature 0, as the
paper); retries sample at `retry_temperature` with a seed drawn from (seed,
round, attempt). At temperature 0 a retry of a small model returns the
rejected answer again, word for word, however the reason is put.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from llmhpo.errors import ConfigError, Key
from llmhpo.llm.base import LLMClient, LLMRequest, LLMResponse, Message, Sampling
from llmhpo.llm.cache import CachedClient
from llmhpo.llm.clients import make_client
from llmhpo.objectives.base import TaskInfo, tuning_intro
from llmhpo.space import InvalidConfigError, SearchSpace, same_config
from llmhpo.store import TrialRecord, TrialRequest
from llmhpo.tuners.base import Ledger, Owns, Proposal, Tuner, every_round, proposer_counts
from llmhpo.tuners.llm.answers import AnswerParseError, answer_schema, read_config
from llmhpo.tuners.llm.prompts import PromptBuilder, PromptSettings

log = logging.getLogger(__name__)

ON_INVALID = ("fail", "random", "bo")
GENERIC_TASK = TaskInfo(
    intro=tuning_intro("a machine learning model"),
    feedback=(("Loss", "value"),),
    feedback_phrase="loss",
    goal_phrase="loss",
)


class LLMTuner(Tuner):
    """Asks an LLM for each configuration: prompts from the trial log, answers read, validated
    and sent back with the reason when rejected; the only tuner that knows prompts and clients."""

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        llm: dict[str, Any],
        prompt: dict[str, Any],
        budget: int,
        max_attempts: int = 3,
        on_invalid: str | None = None,
        allow_repeats: bool = False,
        retry_temperature: float = 1.0,
        bo: dict[str, Any] | None = None,
        name: str | None = None,
        task: TaskInfo | None = None,
        folder: Path | None = None,
    ):
        """`bo`: the options of the Bayesian optimiser behind on_invalid=bo (those of
        tuner=bo: backend, sampler, n_startup_trials, n_initial, crash_cost)."""
        on_invalid = on_invalid or default_on_invalid(llm)
        if on_invalid not in ON_INVALID:
            why = f" must be one of {ON_INVALID}, got {on_invalid!r}"
            raise ConfigError(Key("tuner", "on_invalid"), why)
        if max_attempts < 1:
            raise ConfigError(Key("tuner", "max_attempts"), f" must be >= 1, got {max_attempts}")
        super().__init__(space, seed, name or f"llm-{llm.get('model')}", task, folder)
        self.client = _client_from_config(llm, seed)
        self.settings = PromptSettings(**prompt)
        self.prompts = PromptBuilder(self.settings, space, task or GENERIC_TASK, budget)
        self.schema = answer_schema(space)
        self.max_attempts = max_attempts
        self.on_invalid = on_invalid
        self.allow_repeats = allow_repeats
        self.retry_temperature = retry_temperature
        self.bo: Tuner | None = None  # hears every result; proposes where the LLM cannot
        if on_invalid == "bo":
            from llmhpo.tuners.bo import bayesian_optimisation

            self.bo = bayesian_optimisation(space, seed, **(bo or {}), task=task, folder=folder)

    def ask(self, advice: Proposal | None = None) -> Proposal:
        """The LLM's configuration for this round; `advice`, the BO tuner's own proposal for
        it, is shown in the prompt (and is the fallback with on_invalid=bo)."""
        rejected: list[tuple[str, str]] = []  # (answer, why it was rejected)
        calls: list[LLMResponse] = []
        rng = self.round_rng()
        for attempt in range(self.max_attempts):
            messages, sampling = self._request(attempt, rejected, rng, advice)
            response = self.client.complete(
                LLMRequest(messages, self.schema, self.settings.cot, sampling)
            )
            calls.append(response)
            try:
                config = read_config(response.text, self.space, response.cut_from)
                self._check_new(config)
            except (AnswerParseError, InvalidConfigError, RepeatedConfigError) as error:
                rejected.append((response.text, str(error)))
                log.info("LLM answer rejected (%s): %s", str(error), response.text[:200])
                continue
            info = self._info(calls, rejected, accepted=response.text)
            info["proposer"] = "llm"
            if advice is not None:
                info["advice"] = advice.config
                info["took_advice"] = same_config(config, advice.config)
            return Proposal(config, info)
        info = self._info(calls, rejected, accepted=None)
        reason = f"no valid proposal in {self.max_attempts} attempts; last: {rejected[-1][1]}"
        if self.on_invalid == "fail":
            return Proposal(None, info, error=reason, fatal=True)
        info["fallback"] = info["proposer"] = self.on_invalid
        info["invalid_reason"] = reason
        if self.on_invalid == "random":
            return Proposal(self.space.sample(rng), info)
        proposal = advice if advice is not None else self.bo.ask()
        info["bo"] = proposal.info
        return Proposal(proposal.config, info, proposal.error)

    def _request(
        self,
        attempt: int,
        rejected: list[tuple[str, str]],
        rng: np.random.Generator,
        advice: Proposal | None,
    ) -> tuple[list[Message], Sampling | None]:
        """The messages and decoding of an attempt: the paper's prompt, decoded as configured
        (temperature 0); a retry with the reasons of the rejected answers, sampled at
        `retry_temperature` with a seed from (seed, round); the BO tuner's advice noted."""
        if attempt == 0:
            messages, sampling = self.prompts.messages(self.history), None
        else:
            messages = self.prompts.retry(self.history, rejected)
            sampling = Sampling(self.retry_temperature, int(rng.integers(2**31 - 1)))
        notes = [self._running_text(), advice and self._advice_text(advice)]
        for note in filter(None, notes):
            messages[-1] = {**messages[-1], "content": f"{messages[-1]['content']}\n{note}"}
        return messages, sampling

    def _running_text(self) -> str | None:
        """The configurations out for evaluation (other workers', a batch's earlier rounds),
        so that the LLM proposes none of them again; None when nothing else is running."""
        running = [r for r in self.pending if isinstance(r, TrialRequest)]
        if not running:
            return None
        listed = "; ".join(f"Config {r.round + 1}: {json.dumps(r.config)}" for r in running)
        return f"Being evaluated now, results not known yet: {listed}. Propose another one."

    def attach(self, ledger: Ledger, owns: Owns = every_round) -> None:
        """The BO tuner behind on_invalid=bo reads the same ledger; its own rounds are those
        whose configuration it proposed (`proposer: bo`), the others are told to it."""
        super().attach(ledger, owns)
        if self.bo is not None:
            self.bo.attach(ledger, lambda r: owns(r) and r.tuner.get("proposer") == "bo")

    def summary(self, records: list[TrialRecord]) -> dict[str, Any]:
        """`llm`: the calls, tokens, cost and fallbacks of the rounds it asked the LLM for;
        `proposers`: whose configuration each round evaluated."""
        asked = [r.tuner for r in records if "prompt_tokens" in r.tuner]
        if not asked:
            return proposer_counts(records)
        costs = [info.get("cost_usd") for info in asked]
        llm = {
            "calls": sum(info.get("attempts", 0) for info in asked),
            "cached_calls": sum(info.get("cached_calls", 0) for info in asked),
            "prompt_tokens": sum(info["prompt_tokens"] for info in asked),
            "completion_tokens": sum(info.get("completion_tokens", 0) for info in asked),
            "cost_usd": None if any(c is None for c in costs) else sum(costs),
            "first_try_valid": sum(
                info.get("attempts") == 1 and info.get("answer") is not None for info in asked
            ),
            "random_fallbacks": sum(info.get("fallback") == "random" for info in asked),
            "bo_fallbacks": sum(info.get("fallback") == "bo" for info in asked),
        }
        return {"llm": llm, **proposer_counts(records)}

    def _advice_text(self, advice: Proposal) -> str:
        """What the prompt says of the BO tuner's proposal and of the best result so far."""
        text = (
            f"A Bayesian optimiser ({self.bo.name}) that has seen the same results would try "
            f"{json.dumps(advice.config)} next."
        )
        finished = [r for r in self.history if r.status == "ok" and r.value is not None]
        if finished:
            best = min(finished, key=lambda r: r.value)
            text += (
                f" The best so far is Config {best.round + 1}: {json.dumps(best.config)} "
                f"({self.prompts.result_text(best)})."
            )
        return text + " You may take its suggestion or propose another configuration."

    def _check_new(self, config: dict[str, Any]) -> None:
        if self.allow_repeats:
            return
        for record in [*self.history, *self.pending]:  # pending: a batch's earlier rounds
            if record.config is not None and same_config(record.config, config):
                raise RepeatedConfigError(self.prompts.repeat_message(config, record))

    def _info(
        self, calls: list[LLMResponse], rejected: list[tuple[str, str]], accepted: str | None
    ) -> dict[str, Any]:
        costs = [c.cost_usd for c in calls]
        return {
            "model": self.client.model,
            "prompt_format": self.settings.format,
            "cot": self.settings.cot,
            "attempts": len(calls),
            "answer": accepted,
            "answers": [c.text for c in calls],
            "rejections": [reason for _, reason in rejected],
            "prompt_tokens": sum(c.prompt_tokens for c in calls),
            "completion_tokens": sum(c.completion_tokens for c in calls),
            "cost_usd": None if any(c is None for c in costs) else sum(costs),
            "llm_seconds": sum(c.seconds for c in calls),
            "cached_calls": sum(c.cached for c in calls),
            "transport_retries": [r for c in calls for r in c.retries],
        }


def default_on_invalid(llm: dict[str, Any]) -> str:
    """`tuner.on_invalid` when the config leaves it null: `random` for the embedded model, which
    repeats itself and must never end a study by itself; `fail` for remote providers, where
    a round without a valid answer is rare and worth a look (a wrong model name, a broken
    prompt) before more paid calls, and a random fallback would blur the comparison with
    random search."""
    return "random" if llm.get("provider") == "local" else "fail"


class RepeatedConfigError(ValueError):
    """The LLM proposed a configuration that was already evaluated."""


def _client_from_config(llm: dict[str, Any], seed: int) -> LLMClient:
    client = make_client(llm, seed)
    if llm.get("cache", True):
        return CachedClient(client, Path(llm.get("cache_dir") or ".cache/llmhpo"))
    return client
