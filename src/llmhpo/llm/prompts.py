"""The paper's prompt formats, built from the trial log, and reading the answers.

`compressed` (the reference's `cifar/train.py`): every round is ONE user message
holding the search space, the instructions and every result so far as
`Config i: {json} Error Rate: 1.2345e-01, Loss: 4.5678e-01`. `chat` (the paper's
toy-function notebook): a conversation that starts with the ranges and the
budget, then gets each result as a reply to the model's own answer. With
`cot`, both ask for an "Analysis:" line before an "Output:" JSON line.

Messages are a pure function of the trial records, so a resumed study sends
exactly the conversation an uninterrupted one would have.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any

from llmhpo.errors import ConfigError
from llmhpo.objectives.base import TaskInfo, tuning_intro
from llmhpo.space import InvalidConfigError, SearchSpace
from llmhpo.trial_log import TrialRecord

Message = dict[str, str]

COT_INSTRUCTION = (
    "Write two lines as follows:\n"
    "Analysis:(up to a few sentences describing what worked so far and what to choose next)\n"
    "Output:{json dict}"
)


# An answer longer than this is rejected unread (and cut on arrival by the clients): a
# configuration, even after a chain-of-thought analysis, takes a few hundred characters. The
# bound keeps the reader's work and every stored copy small when a server ignores max_tokens.
MAX_ANSWER_CHARS = 20_000


class AnswerParseError(ValueError):
    """No usable configuration in an LLM's answer; the message says why, for the LLM."""


@dataclass(frozen=True)
class PromptSettings:
    format: str = "compressed"  # compressed | chat
    cot: bool = False
    system: str = "You are a machine learning expert."
    task_description: str | None = None
    digits: int = 4  # digits after the point in feedback numbers (the reference's .4e)

    def __post_init__(self) -> None:
        if self.format not in ("compressed", "chat"):
            raise ConfigError(f"prompt.format must be compressed or chat, got {self.format!r}")


class PromptBuilder:
    """Turns the trial history into the next request, and a rejected answer into a retry."""

    def __init__(self, settings: PromptSettings, space: SearchSpace, task: TaskInfo, budget: int):
        self.settings = settings
        self.space = space
        self.task = task
        self.budget = budget

    # --- the first message -------------------------------------------------------------------

    def intro(self) -> str:
        if self.settings.task_description:
            return tuning_intro(self.settings.task_description)
        return self.task.intro

    def compressed_intro(self) -> str:
        """The reference's initial prompt, with the example's keys taken from the space."""
        lines = ",\n".join(
            f'    "{name}": {param.constraint()}' for name, param in self.space.params.items()
        )
        example = ",\n".join(
            f'    "{name}": {chr(ord("a") + i)}' for i, name in enumerate(self.space.names)
        )
        answer = (
            "Provide a config in JSON format. Do not put new lines or any extra characters in "
            "the response, only provide the config."
            if not self.settings.cot
            else "Provide a config in JSON format."
        )
        return (
            f"{self.intro()} This is our hyperparameter search space:\n{{\n{lines}\n}}\n"
            f"We have a budget to try {self.budget} configurations in total. "
            f"You will get the {self.task.feedback_phrase} before you need to specify the next "
            f"configuration. The goal is to find the configuration that {self.task.direction}s the "
            f"{self.task.goal_phrase} with the given budget, so you should explore different "
            "parts of the search space if the loss is not changing. "
            f"{answer} Example config:\n{{\n{example}\n}}\n"
        )

    def chat_intro(self) -> str:
        """The paper's toy-function prompt (its variant with the budget), for any space."""
        ranges = " ".join(
            f"{name} {_chat_constraint(param)}." for name, param in self.space.params.items()
        )
        example = "{" + ", ".join(f'"{name}": {name}' for name in self.space.names) + "}"
        return (
            f"{self.intro()} {ranges} I want you to predict values that {self.task.direction} the "
            f"{self.task.goal_phrase}; I will tell you the {self.task.feedback_phrase} before you "
            "try again. Do not put new lines or extra characters in your response. We have a "
            f"total of {self.budget} evaluations. Format your output with json as follows: "
            f"{example}\n"
        )

    # --- feedback ---------------------------------------------------------------------------

    def result_text(self, record: TrialRecord) -> str:
        """'Error Rate: 1.2345e-01, Loss: 4.5678e-01', or why there is no result."""
        if record.status == "failed":
            return f"Training failed: {record.error}"
        d = self.settings.digits
        parts = []
        for label, key in self.task.feedback:
            value = record.metrics.get(key, record.value if key == "value" else None)
            parts.append(f"{label}: {value:.{d}e}" if value is not None else f"{label}: n/a")
        return ", ".join(parts)

    def messages(self, history: list[TrialRecord]) -> list[Message]:
        """The request for the next round, before any retry."""
        if self.settings.format == "compressed":
            return self._compressed(history, error=_last_round_error(history))
        return self._chat(history)

    def retry(self, history: list[TrialRecord], rejected: list[tuple[str, str]]) -> list[Message]:
        """The request after answers of this round were rejected: (answer, reason) pairs."""
        if self.settings.format == "compressed":
            return self._compressed(history, error=rejected[-1][1])
        messages = self._chat(history)
        for answer, reason in rejected:
            messages.append({"role": "assistant", "content": answer})
            messages.append({"role": "user", "content": f"{reason}. {self._next_instruction()}"})
        return messages

    def repeat_message(self, config: dict[str, Any], earlier: TrialRecord) -> str:
        if earlier.status == "ok" and earlier.value is None:  # held: out for evaluation
            where = f"is being evaluated as Config {earlier.round + 1}"
        else:
            where = f"was already evaluated as Config {earlier.round + 1} "
            where += f"({self.result_text(earlier)})"
        return (
            f"the configuration {json.dumps(config)} {where}; propose a configuration that "
            "has not been tried yet"
        )

    # --- formats ----------------------------------------------------------------------------

    def _compressed(self, history: list[TrialRecord], error: str | None) -> list[Message]:
        evaluated = [r for r in history if r.config is not None]
        prompt = self.compressed_intro()
        if evaluated:
            prompt += "This is what has been done so far:\n"
        for record in evaluated:
            config = json.dumps(record.config)
            prompt += f"Config {record.round + 1}: {config} {self.result_text(record)}\n"
        if error:
            prompt += f"We got the following error message with the previous proposal: {error}\n"
        prompt += (
            COT_INSTRUCTION if self.settings.cot else "Provide a config in the same JSON format."
        )
        return [
            {"role": "system", "content": self.settings.system},
            {"role": "user", "content": prompt},
        ]

    def _chat(self, history: list[TrialRecord]) -> list[Message]:
        messages = [
            {"role": "system", "content": self.settings.system},
            {"role": "user", "content": self.chat_intro()},
        ]
        for record in history:
            messages.append({"role": "assistant", "content": _answer_of(record)})
            messages.append({"role": "user", "content": self._feedback(record)})
        return messages

    def _feedback(self, record: TrialRecord) -> str:
        if record.config is None:
            return f"That answer was invalid: {record.error}. {self._next_instruction()}"
        prefix = ""
        if record.tuner.get("fallback") == "random":
            prefix = (
                "No valid answer came, so a random configuration was evaluated: "
                f"{json.dumps(record.config)}. "
            )
        return f"{prefix}{self.result_text(record)}. {self._next_instruction()}"

    def _next_instruction(self) -> str:
        return COT_INSTRUCTION if self.settings.cot else "Format your next output as before."


def _chat_constraint(param: Any) -> str:
    low, high = getattr(param, "low", None), getattr(param, "high", None)
    if low is not None and high is not None:
        return f"must be in range ({low:g}, {high:g})"
    text = param.constraint()
    return text if text.startswith("must be") else f"must be {text}"


def _answer_of(record: TrialRecord) -> str:
    """The model's own words for a round: its accepted answer, else its last attempt."""
    answer = record.tuner.get("answer")
    if answer is None and record.tuner.get("answers"):
        answer = record.tuner["answers"][-1]
    return answer if answer is not None else json.dumps(record.proposed)


def _last_round_error(history: list[TrialRecord]) -> str | None:
    """The reference shows the previous round's error (a failed training or a bad answer)."""
    if not history or history[-1].status == "ok":
        return None
    return history[-1].error


# --- reading answers --------------------------------------------------------------------------

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_OUTPUT = re.compile(r"Output\s*:\s*(.*)", re.DOTALL | re.IGNORECASE)


def read_config(text: str | None, space: SearchSpace, length: int | None = None) -> dict[str, Any]:
    """The valid configuration in an answer, or AnswerParseError / InvalidConfigError with a
    reason to send back. Every way an answer can fail to read is one of those two, never a
    crash (a cached answer would otherwise crash every rerun of the study too). `length` is
    the answer's length before a client cut it (`LLMResponse.cut_from`)."""
    length = length if length is not None else len(text or "")
    if length > MAX_ANSWER_CHARS:
        raise AnswerParseError(
            f"the answer was {length} characters long, over the limit of {MAX_ANSWER_CHARS}; "
            "answer with one short JSON object"
        )
    try:
        return space.validate(parse_answer(text, space.names))
    except (AnswerParseError, InvalidConfigError):
        raise
    except (ValueError, TypeError, OverflowError, RecursionError, MemoryError) as error:
        raise AnswerParseError(
            f"the answer could not be read ({type(error).__name__}); answer with one flat JSON "
            "object with one key per hyperparameter"
        ) from error


def parse_answer(text: str | None, names: list[str]) -> dict[str, Any]:
    """The configuration object in an answer: bare JSON, after 'Output:', in a code fence,
    or inside prose; Python-style dicts with single quotes are read too. A single wrapper
    key around the real object ({"config": {...}}) is removed. Raises AnswerParseError."""
    if text is None or not text.strip():
        raise AnswerParseError("the answer was empty; expected a JSON object")
    candidates = []
    output = _OUTPUT.search(text)
    if output:
        candidates.append(output.group(1))
    candidates += _FENCE.findall(text)
    candidates.append(text)
    found_other: Any = None
    for candidate in candidates:
        for value in _json_values(candidate):
            if isinstance(value, dict):
                return _unwrap(value, names)
            found_other = value if found_other is None else found_other
    if found_other is not None:
        return _reject_non_object(found_other)
    raise AnswerParseError(
        f"no JSON object found in the answer {_clip(text)}; expected a JSON object"
    )


def _json_values(text: str) -> list[Any]:
    """Every JSON (or Python-literal) value starting at a '{' or '[' in `text`, outermost first.

    Linear in the answer's length: each bracket's partner is found in one pass, a Python
    literal is tried only on a balanced span, and answers whose balanced brackets nest deeper
    than MAX_NESTING are refused (a configuration is one flat object, perhaps wrapped once).
    """
    stripped = text.strip()
    for parse in (json.loads, ast.literal_eval):
        try:
            return [parse(stripped)]
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            pass
    spans = _bracket_spans(text)
    decoder = json.JSONDecoder()
    values: list[Any] = []
    index = 0
    for start in spans:
        if start < index:
            continue
        try:
            value, index = decoder.raw_decode(text, start)
            values.append(value)
            continue
        except (ValueError, RecursionError):  # RecursionError: nested deeper than Python allows
            pass
        try:
            values.append(ast.literal_eval(text[start : spans[start] + 1]))
            index = spans[start] + 1
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            pass
    return values


MAX_NESTING = 32


def _bracket_spans(text: str) -> dict[int, int]:
    """{position of an opening bracket: position of its partner} for every balanced pair, in
    order of position (quotes are not tracked: prose has apostrophes); AnswerParseError past
    MAX_NESTING."""
    closers = {"{": "}", "[": "]"}
    stack: list[tuple[int, str]] = []
    spans: dict[int, int] = {}
    for position, char in enumerate(text):
        if char in closers:
            stack.append((position, closers[char]))
        elif stack and char == stack[-1][1]:
            spans[stack.pop()[0]] = position
    spans = dict(sorted(spans.items()))
    ends: list[int] = []  # the ends of the balanced spans around the current one
    for start, end in spans.items():
        while ends and ends[-1] < start:
            ends.pop()
        ends.append(end)
        if len(ends) > MAX_NESTING:
            raise AnswerParseError(
                f"the answer nests brackets more than {MAX_NESTING} deep; expected one flat "
                "JSON object with one key per hyperparameter"
            )
    return spans


def _unwrap(value: dict[str, Any], names: list[str]) -> dict[str, Any]:
    if len(value) == 1:
        ((key, inner),) = value.items()
        if key not in names and isinstance(inner, dict):
            return inner
    return value


def _reject_non_object(value: Any) -> dict[str, Any]:
    kind = "list" if isinstance(value, list) else type(value).__name__
    raise AnswerParseError(
        f"the answer is a JSON {kind} ({_clip(json.dumps(value, default=str))}), not an object; "
        "expected one JSON object with one key per hyperparameter"
    )


def _clip(text: str, limit: int = 120) -> str:
    text = text.strip()
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")
