"""`tuner=llambo`: LLAMBO, Bayesian optimisation whose every part is an LLM (Liu et al., ICLR
2024, arXiv 2402.03921; its code: tennisonliu/LLAMBO, `llambo/`).

The first `n_initial` rounds of a study are a zero-shot warm start: one request asks the LLM
for that many diverse configurations from the task's description (rounds already given by
`initial` or `start_at_default` count towards them). Each later round is one step of
Bayesian optimisation:

1. **Candidate sampler.** A target score is set beyond the best so far,
   `best - alpha * (worst - best)` (lower is better; `alpha` steps down through 0.1, 0.01,
   0.001, -0.001, -0.01, -0.1 while the target would pass the least value the metric can
   take, an error rate's 0). `n_templates` prompts each show the results so far in their own
   random order and ask for a configuration expected to reach the target, in the format
   `## name: value, ... ##`; each is sampled `n_candidates / n_templates` times at
   `candidate_temperature`. Answers are parsed, checked against the space (categorical
   parameters included: they go through the LLM like the others) and deduplicated among
   themselves and against every configuration already evaluated or running; the sampling is
   repeated (up to `max_attempts` times) while fewer than `min_candidates` remain.
2. **Discriminative surrogate.** For each candidate, each of the `n_templates` few-shot
   prompts (the results in their own random order) asks for the candidate's score,
   `## score ##`, sampled `surrogate_samples` times at `surrogate_temperature`: the mean and
   standard deviation of the readable predictions are the surrogate's belief.
3. **Acquisition.** The candidate with the highest expected improvement over the best score
   so far is evaluated.

A request for several samples is one call with `n` where the provider honours it (OpenAI's
API does; the prompt is then paid once); a provider that gives fewer answers, and the
embedded model, are asked again with a new seed for the rest. Every call goes through the
replay cache, so a resumed study asks nothing twice, and each round logs its candidates,
their predictions, the calls, tokens, seconds and cost. A round without a single valid
candidate is handled as `on_invalid` says (a random configuration, marked as such, for the
embedded model; the study stops for a remote provider).

Only rounds whose trials finished with a value are shown to the LLM (LLAMBO has no failed
trials); a maximised metric is shown as the caller reports it, larger being better.
"""

from __future__ import annotations

import ast
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from llmhpo.errors import ConfigError, Key
from llmhpo.llm.base import LLMRequest, LLMResponse, Sampling
from llmhpo.objectives.base import TaskInfo
from llmhpo.space import (
    CategoricalParam,
    FloatParam,
    GridParam,
    IntParam,
    InvalidConfigError,
    Param,
    SearchSpace,
    same_config,
)
from llmhpo.store import TrialRecord
from llmhpo.tuners.base import Proposal
from llmhpo.tuners.llm.tuner import LLMTuner

# The paper's code steps alpha down through these while the target leaves the metric's range
# (its last entry, 1e-1, reads as a slip for -1e-1: as written, the loop never ends there).
ALPHA_STEPS = (0.1, 1e-2, 1e-3, -1e-3, -1e-2, -1e-1)
TARGET_MARGIN = 1e-5  # how close to the metric's bound a target may come (the paper's 0.00001)
LEAST_STD = 1e-5  # a surrogate's spread below this is taken as this (as the paper's code)
_SCORE = re.compile(r"##\s*(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*##")


@dataclass
class Calls:
    """What a round's LLM calls cost, by step: calls, tokens, seconds, dollars."""

    responses: list[tuple[str, LLMResponse]]

    def info(self) -> dict[str, Any]:
        costs = [r.cost_usd for _, r in self.responses]
        steps = ("warm_start", "candidates", "surrogate")
        return {
            "attempts": len(self.responses),  # calls (the LLM tuners' name, for the summary)
            "calls_by_step": {
                step: n for step in steps if (n := sum(s == step for s, _ in self.responses))
            },  # fmt: skip
            "prompt_tokens": sum(r.prompt_tokens for _, r in self.responses),
            "completion_tokens": sum(r.completion_tokens for _, r in self.responses),
            "cost_usd": None if any(c is None for c in costs) else sum(costs),
            "llm_seconds": sum(r.seconds for _, r in self.responses),
            "cached_calls": sum(r.cached for _, r in self.responses),
            "transport_retries": [x for _, r in self.responses for x in r.retries],
        }


class LlamboTuner(LLMTuner):
    """LLAMBO: a zero-shot warm start, then each round an LLM samples candidates for a target
    score, an LLM surrogate predicts each one's score, and expected improvement picks one."""

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        llm: dict[str, Any],
        prompt: dict[str, Any],
        budget: int,
        warm_start_template: str,
        candidate_template: str,
        surrogate_template: str,
        system: str,
        n_initial: int = 5,
        n_candidates: int = 10,
        n_templates: int = 2,
        min_candidates: int = 5,
        alpha: float = 0.1,
        candidate_temperature: float = 0.8,
        candidate_max_tokens: int = 500,
        surrogate_samples: int = 10,
        surrogate_temperature: float = 0.7,
        surrogate_max_tokens: int = 16,
        max_attempts: int = 3,
        on_invalid: str | None = None,
        retry_temperature: float = 1.0,
        name: str | None = None,
        task: TaskInfo | None = None,
        folder: Path | None = None,
    ):
        """The templates are conf/tuner/llambo.yaml's (the paper's, for any task): their
        fields are named there."""
        for key, value, least in (
            ("n_initial", n_initial, 0),
            ("n_candidates", n_candidates, 1),
            ("n_templates", n_templates, 1),
            ("min_candidates", min_candidates, 1),
            ("surrogate_samples", surrogate_samples, 1),
            ("candidate_max_tokens", candidate_max_tokens, 1),
            ("surrogate_max_tokens", surrogate_max_tokens, 1),
        ):
            if value < least:
                raise ConfigError(Key("tuner", key), f" must be >= {least}, got {value}")
        if n_candidates % n_templates:
            raise ConfigError(
                Key("tuner", "n_candidates"), f" ({n_candidates}) must be a multiple of ",
                Key("tuner", "n_templates"), f" ({n_templates}): each prompt is sampled "
                "n_candidates / n_templates times",
            )  # fmt: skip
        if not -1.0 <= alpha <= 1.0:
            raise ConfigError(Key("tuner", "alpha"), f" must be in [-1, 1], got {alpha}")
        if on_invalid == "bo":
            raise ConfigError(Key("tuner", "on_invalid"), " must be fail or random for llambo")
        super().__init__(
            space, seed, llm, prompt, budget, max_attempts, on_invalid=on_invalid,
            allow_repeats=False, retry_temperature=retry_temperature,
            name=name or f"llambo-{llm.get('model')}", task=task, folder=folder,
        )  # fmt: skip
        self.templates = {
            "warm_start": warm_start_template,
            "candidates": candidate_template,
            "surrogate": surrogate_template,
        }
        self.system = system
        self.n_initial, self.n_candidates, self.n_templates = n_initial, n_candidates, n_templates
        self.min_candidates = min(min_candidates, n_candidates)
        self.alpha = alpha
        self.candidate_decoding = (candidate_temperature, candidate_max_tokens)
        self.surrogate_samples = surrogate_samples
        self.surrogate_decoding = (surrogate_temperature, surrogate_max_tokens)

    # --- a round ---------------------------------------------------------------------------

    def ask(self, advice: Proposal | None = None) -> Proposal:
        calls = Calls([])
        rng = self.round_rng()
        if self.round < self.n_initial or not self._observed():
            return self._warm_start_round(calls, rng)
        return self._bo_round(calls, rng)

    def _warm_start_round(self, calls: Calls, rng: np.random.Generator) -> Proposal:
        """The j-th warm-start configuration, the first one asking the LLM for them all."""
        earlier = [r for r in self._rounds() if r.tuner.get("phase") == "warm_start"]
        listed = next((r.tuner["warm_start"] for r in earlier if "warm_start" in r.tuner), None)
        info: dict[str, Any] = {"phase": "warm_start"}
        if listed is None:
            wanted = max(1, self.n_initial - self.round)
            listed, answers, rejections = self._ask_warm_start(wanted, calls, rng)
            info.update(warm_start=listed, answers=answers, rejections=rejections)
        info.update(self._common_info(), **calls.info())
        position = len(earlier)
        if position < len(listed):
            info["proposer"] = "llm"
            return Proposal(dict(listed[position]), info)
        why = f"the warm start gave {len(listed)} valid new configurations"
        return self._fallback(info, why, rng)

    def _bo_round(self, calls: Calls, rng: np.random.Generator) -> Proposal:
        target, alpha = self._target()
        candidates, answers, rejections = self._sample_candidates(target, calls, rng)
        info: dict[str, Any] = {
            "phase": "llambo",
            "target": target,
            "alpha": alpha,
            "answers": answers,
            "rejections": rejections,
        }
        if not candidates:
            info.update(self._common_info(), **calls.info())
            return self._fallback(info, "no valid new candidate", rng)
        scored = self._score(candidates, calls, rng)
        chosen = int(np.argmax([c["ei"] for c in scored])) if len(scored) > 1 else 0
        info.update(candidates=scored, chosen=chosen, proposer="llm")
        info.update(self._common_info(), **calls.info())
        return Proposal(dict(candidates[chosen]), info)

    def _fallback(self, info: dict[str, Any], why: str, rng: np.random.Generator) -> Proposal:
        reason = f"{why} in {self.max_attempts} attempts"
        if self.on_invalid == "fail":
            return Proposal(None, info, error=reason, fatal=True)
        info.update(proposer="random", fallback="random", invalid_reason=reason)
        return Proposal(self.space.sample(rng), info)

    def _common_info(self) -> dict[str, Any]:
        return {"model": self.client.model}

    # --- the warm start --------------------------------------------------------------------

    def _ask_warm_start(
        self, wanted: int, calls: Calls, rng: np.random.Generator
    ) -> tuple[list[dict[str, Any]], list[str], list[str]]:
        """Up to `wanted` valid, new, distinct configurations from the zero-shot request; a
        retry (sampled) is sent while fewer were given, with what was wrong."""
        found: list[dict[str, Any]] = []
        answers: list[str] = []
        rejections: list[str] = []
        prompt = self.templates["warm_start"].format(
            intro=self.prompts.intro(), ranges=self._ranges(), n=wanted
        )
        for attempt in range(self.max_attempts):
            messages = [{"role": "system", "content": self.system},
                        {"role": "user", "content": prompt}]  # fmt: skip
            if rejections:
                messages.append({"role": "assistant", "content": answers[-1]})
                messages.append({"role": "user", "content": f"{rejections[-1]}. {prompt}"})
            sampling = None if attempt == 0 else Sampling(self.retry_temperature, _seed(rng))
            request = LLMRequest(messages, sampling=sampling, grammar=self._grammar_of_list(wanted))
            response = self.client.complete(request)
            calls.responses.append(("warm_start", response))
            answers.append(response.text)
            problems = []
            for proposal in _objects(response.text):
                try:
                    config = self.space.validate(proposal)
                except InvalidConfigError as error:
                    problems.append(str(error))
                    continue
                if not self._is_new(config, found):
                    continue
                found.append(config)
            if len(found) >= wanted:
                break
            rejections.append(
                f"{len(found)} of the {wanted} configurations asked for are valid and new so "
                "far" + (f" (one was refused: {problems[0]})" if problems else "")
            )
        return found[:wanted], answers, rejections

    # --- the candidate sampler -------------------------------------------------------------

    def _target(self) -> tuple[float, float]:
        """The score the candidates are asked to reach, as shown, and the alpha it took."""
        values = [r.value for r in self._observed()]
        best, worst = min(values), max(values)
        spread = worst - best or 0.1 * abs(worst)
        alpha = self.alpha or -1e-3  # the paper's code: "a little bit of randomness"
        target = best - alpha * spread
        least = self.task_info.best_value
        if least is not None:
            for step in ALPHA_STEPS:
                if target > least + TARGET_MARGIN:
                    break
                if step < alpha:
                    alpha, target = step, best - step * spread
        return self._shown(target), alpha

    def _sample_candidates(
        self, target: float, calls: Calls, rng: np.random.Generator
    ) -> tuple[list[dict[str, Any]], list[str], list[str]]:
        """Valid, distinct, new candidates from the `n_templates` prompts, sampled again while
        fewer than `min_candidates` came."""
        prompts = [self._candidate_prompt(target, rng) for _ in range(self.n_templates)]
        per_prompt = self.n_candidates // self.n_templates
        temperature, max_tokens = self.candidate_decoding
        found: list[dict[str, Any]] = []
        answers: list[str] = []
        rejections: list[str] = []
        for _ in range(self.max_attempts):
            for prompt in prompts:
                texts = self._samples(
                    "candidates", prompt, per_prompt, temperature, max_tokens, calls, rng,
                    self._grammar_of_pairs(),
                )  # fmt: skip
                for text in texts:
                    answers.append(text)
                    try:
                        config = self.space.validate(read_pairs(text, self.space.names))
                    except (InvalidConfigError, ValueError) as error:
                        rejections.append(str(error))
                        continue
                    if self._is_new(config, found):
                        found.append(config)
                    else:
                        rejections.append(f"{json.dumps(config)} was evaluated or proposed")
            if len(found) >= self.min_candidates:
                break
        return found[: self.n_candidates], answers, rejections

    def _candidate_prompt(self, target: float, rng: np.random.Generator) -> str:
        shown = self._observed()
        examples = "".join(
            f"\nPerformance: {_score_text(self._shown(shown[i].value))}"
            f"\nHyperparameter configuration: ## {self._config_text(shown[i].config, ': ')} ##"
            for i in rng.permutation(len(shown))
        )
        return self.templates["candidates"].format(
            intro=self.prompts.intro(),
            metric=self.task_info.goal_phrase,
            ranges=self._ranges(),
            target=_score_text(target),
            examples=examples,
        )

    # --- the surrogate and the acquisition -------------------------------------------------

    def _score(
        self, candidates: list[dict[str, Any]], calls: Calls, rng: np.random.Generator
    ) -> list[dict[str, Any]]:
        """Each candidate's predictions, their mean and spread, and its expected improvement
        (in the minimised value's terms); one candidate alone is not scored."""
        if len(candidates) == 1:
            return [{"config": candidates[0]}]
        shown = self._observed()
        orders = [rng.permutation(len(shown)) for _ in range(self.n_templates)]
        temperature, max_tokens = self.surrogate_decoding
        predictions: list[list[float | None]] = []
        for config in candidates:
            query = self._config_text(config, " is ")
            readable: list[float | None] = []
            for order in orders:
                examples = "".join(
                    f"\nHyperparameter configuration: {self._config_text(shown[i].config, ' is ')}"
                    f"\nPerformance: ## {_score_text(self._shown(shown[i].value))} ##"
                    for i in order
                )
                prompt = self.templates["surrogate"].format(
                    intro=self.prompts.intro(), metric=self.task_info.goal_phrase,
                    examples=examples, query=query,
                )  # fmt: skip
                texts = self._samples(
                    "surrogate", prompt, self.surrogate_samples, temperature, max_tokens,
                    calls, rng, SCORE_GRAMMAR,
                )  # fmt: skip
                readable.extend(_read_score(text) for text in texts)
            predictions.append(readable)
        means, stds = _belief(predictions, self._shown)
        best = min(r.value for r in shown)
        return [
            {
                "config": config,
                "predictions": predicted,
                "mean": self._shown(mean),
                "std": std,
                "ei": expected_improvement(best, mean, std),
            }
            for config, predicted, mean, std in zip(
                candidates, predictions, means, stds, strict=True
            )
        ]

    # --- calls -----------------------------------------------------------------------------

    def _samples(
        self,
        step: str,
        prompt: str,
        n: int,
        temperature: float,
        max_tokens: int,
        calls: Calls,
        rng: np.random.Generator,
        grammar: str,
    ) -> list[str]:
        """`n` sampled answers to `prompt`: one call asking for n, then, where the provider
        gave fewer, calls with new seeds for the rest."""
        messages = [{"role": "system", "content": self.system},
                    {"role": "user", "content": prompt}]  # fmt: skip
        texts: list[str] = []
        while len(texts) < n:
            request = LLMRequest(
                messages, sampling=Sampling(temperature, _seed(rng)),
                max_tokens=max_tokens, n=n - len(texts), grammar=grammar,
            )  # fmt: skip
            response = self.client.complete(request)
            calls.responses.append((step, response))
            texts.extend([response.text, *response.alternatives][: n - len(texts)])
        return texts

    # --- what the prompts show -------------------------------------------------------------

    @property
    def task_info(self) -> TaskInfo:
        return self.prompts.task

    def _shown(self, value: float) -> float:
        """A minimised value as the metric is reported (negated back where it is maximised)."""
        return -value if self.task_info.direction == "maximize" else value

    def _rounds(self) -> list[Any]:
        return [*self.history, *self.pending]

    def _observed(self) -> list[TrialRecord]:
        """The rounds the prompts show: those that finished with a value."""
        return [r for r in self.history if r.status == "ok" and r.value is not None]

    def _is_new(self, config: dict[str, Any], found: list[dict[str, Any]]) -> bool:
        """Not evaluated, running or found already, also as the prompts write it: a value
        copied from the prompt at its decimals is the configuration it was copied from."""
        earlier = [r.config for r in self._rounds() if r.config is not None]
        text = self._config_text(config, ": ")
        return not any(
            same_config(config, other) or self._config_text(other, ": ") == text
            for other in [*earlier, *found]
        )

    # --- the formats, as grammars for a model decoded here ---------------------------------

    def _grammar_of_pairs(self) -> str:
        """'## name: value, ... ##' with every name in order (the candidates' format)."""
        pairs = ' ", " '.join(
            f"{_literal(name + ': ')} {_value_rule(param, json_choices=False)}"
            for name, param in self.space.params.items()
        )
        return f'root ::= "## " {pairs} " ##"\n'

    def _grammar_of_list(self, n: int) -> str:
        """A list of n flat JSON objects with every name (the warm start's format)."""
        members = ' ", " '.join(
            f"{_literal(json.dumps(name) + ': ')} {_value_rule(param, json_choices=True)}"
            for name, param in self.space.params.items()
        )
        more = f' (", " object){{{n - 1}}}' if n > 1 else ""
        return f'root ::= "[" object{more} "]"\nobject ::= "{{" {members} "}}"\n'

    def _ranges(self) -> str:
        """The paper's lines: '- name: [low, high] (float, precise to 4 decimals)'."""
        return "\n".join(
            f"- {name}: {range_text_of(param, self._decimals(param))}"
            for name, param in self.space.params.items()
        )

    def _decimals(self, param: Param) -> int:
        """A float's decimals in the prompts: its bounds' (the paper's rule: the lower
        bound's), and at least `prompt.digits`, so a value is not rounded out of sight."""
        if not isinstance(param, FloatParam):
            return 0
        bounds = [b for b in (param.low, param.high) if b is not None]
        return max([self.settings.digits, *(_decimal_places(b) for b in bounds)])

    def _config_text(self, config: dict[str, Any], joiner: str) -> str:
        return ", ".join(
            f"{name}{joiner}{value_text(param, config[name], self._decimals(param))}"
            for name, param in self.space.params.items()
        )

    def summary(self, records: list[TrialRecord]) -> dict[str, Any]:
        """The LLM tuners' counts, with the calls of each step of LLAMBO."""
        summary = super().summary(records)
        if "llm" in summary:
            summary["llm"].pop("first_try_valid", None)  # a round is many calls here
            steps: dict[str, int] = {}
            for record in records:
                for step, n in record.tuner.get("calls_by_step", {}).items():
                    steps[step] = steps.get(step, 0) + n
            summary["llm"]["calls_by_step"] = steps
        return summary


def range_text_of(param: Param, decimals: int) -> str:
    """A parameter's allowed values as the paper's prompts state them."""
    if isinstance(param, CategoricalParam):
        return f"(categorical, must take value in {param.options_text()})"
    if isinstance(param, GridParam):
        return f"(ordinal, must take value in {param.options_text()})"
    if param.low is None or param.high is None:
        return param.describe().split(": ", 1)[1]
    if isinstance(param, FloatParam):
        return f"[{param.low:.{decimals}f}, {param.high:.{decimals}f}] (float, precise to {decimals} decimals)"  # noqa: E501
    return f"[{param.low}, {param.high}] (int)"


def value_text(param: Param, value: Any, decimals: int) -> str:
    if isinstance(param, FloatParam):
        return f"{value:.{decimals}f}"
    if isinstance(param, CategoricalParam):
        return json.dumps(value) if value is None or isinstance(value, bool) else str(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def read_pairs(text: str, names: list[str]) -> dict[str, str]:
    """The configuration in an answer of the form '## name: value, name: value ##', as
    strings for the space to read. Names are found by the space's own names, so a name with a
    comma or colon in it reads too."""
    parts = text.split("##")
    if len(parts) < 3:
        raise ValueError("no '## configuration ##' in the answer")
    inner = parts[1].strip().strip("{}")
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    key = rf"[\"']?(?:{alternatives})[\"']?\s*[:=]"
    pattern = re.compile(
        rf"(?:^|,)\s*[\"']?({alternatives})[\"']?\s*[:=]\s*(.*?)\s*(?=,\s*{key}|$)", re.S
    )  # noqa: E501
    found = pattern.finditer(inner)
    pairs = {match.group(1): match.group(2).strip().strip("\"'") for match in found}
    if not pairs:
        raise ValueError(f"no 'name: value' pair in {inner[:200]!r}")
    return pairs


def _objects(text: str) -> list[Any]:
    """The flat JSON (or Python) objects in a warm-start answer, in order; unreadable ones
    are skipped."""
    found = []
    for piece in re.findall(r"\{[^{}]*\}", text or ""):
        for read in (json.loads, ast.literal_eval):
            try:
                found.append(read(piece))
                break
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
    return found


SCORE_GRAMMAR = 'root ::= "## " "-"? [0-9]{1,6} "." [0-9]{1,6} " ##"\n'
_NUMBER = '"-"? [0-9]{1,6} ("." [0-9]{1,8})?'


def _value_rule(param: Param, json_choices: bool) -> str:
    """A GBNF rule for one value: a number, an integer, or one of the choices."""
    if isinstance(param, CategoricalParam):
        shown = (json.dumps(c) if json_choices else value_text(param, c, 0) for c in param.choices)
        return "(" + " | ".join(_literal(text) for text in shown) + ")"
    if isinstance(param, IntParam):
        return '"-"? [0-9]{1,9}'
    return f"({_NUMBER})"


def _literal(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _read_score(text: str) -> float | None:
    """The prediction in '## 0.123456 ##' (exactly one, as the paper's reader), else None."""
    found = _SCORE.findall(text or "")
    if len(found) != 1:
        return None
    value = float(found[0])
    return value if math.isfinite(value) else None


def _belief(
    predictions: list[list[float | None]], to_value: Any
) -> tuple[list[float], list[float]]:
    """Each candidate's mean and spread, in the minimised value's terms; a candidate without
    a readable prediction gets the others' average (the paper's imputation)."""
    means: list[float | None] = []
    stds: list[float | None] = []
    for predicted in predictions:
        numbers = [to_value(p) for p in predicted if p is not None]
        means.append(float(np.mean(numbers)) if numbers else None)
        stds.append(float(np.std(numbers)) if numbers else None)
    known_means = [m for m in means if m is not None]
    known_stds = [s for s in stds if s is not None]
    mean_fill = float(np.mean(known_means)) if known_means else 0.0
    std_fill = float(np.mean(known_stds)) if known_stds else 1.0
    return (
        [mean_fill if m is None else m for m in means],
        [max(LEAST_STD, std_fill if s is None else s) for s in stds],
    )


def expected_improvement(best: float, mean: float, std: float) -> float:
    """Expected improvement of a Gaussian belief (mean, std) below `best` (minimised)."""
    z = (best - mean) / std
    cdf = 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
    pdf = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return (best - mean) * cdf + std * pdf


def _score_text(value: float) -> str:
    """A score as the paper writes it (six decimals), in exponent form where that would
    hide it."""
    if value == 0 or 1e-3 <= abs(value) < 1e9:
        return f"{value:.6f}"
    return f"{value:.6e}"


def _decimal_places(number: float) -> int:
    text = format(number, ".10f").rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31 - 1))
