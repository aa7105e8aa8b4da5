"""The paper's prompt formats, built from the trial log.

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

import json
from dataclasses import dataclass
from typing import Any

from llmhpo.errors import ConfigError
from llmhpo.objectives.base import TaskInfo, tuning_intro
from llmhpo.space import (
    CategoricalParam,
    FloatParam,
    GridParam,
    IntParam,
    Param,
    SearchSpace,
    range_text,
)
from llmhpo.store import TrialRecord, TrialRequest

Message = dict[str, str]

COT_INSTRUCTION = (
    "Write two lines as follows:\n"
    "Analysis:(up to a few sentences describing what worked so far and what to choose next)\n"
    "Output:{json dict}"
)


@dataclass(frozen=True)
class PromptSettings:
    format: str = "compressed"  # compressed | chat
    cot: bool = False
    system: str = "You are a machine learning expert."
    task_description: str | None = None
    digits: int = 4  # digits after the point in feedback numbers (the reference's .4e)
    curves: bool = False  # each past trial's learning curve too, in a few points

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
            f'    "{name}": {constraint_text(param)}' for name, param in self.space.params.items()
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
        """'Error Rate: 1.2345e-01, Loss: 4.5678e-01', or why there is no result; a pruned
        trial says where it was stopped and what it had reached; with `curves`, each trial
        adds its curve."""
        if record.status == "failed":
            return f"Training failed: {record.error}"
        d = self.settings.digits
        parts = []
        for label, key in self.task.feedback:
            value = record.metrics.get(key, record.value if key == "value" else None)
            if value is not None:
                parts.append(f"{label}: {value:.{d}e}")
            elif record.status != "pruned":  # a pruned trial shows what its curve measured
                parts.append(f"{label}: n/a")
        text = ", ".join(parts)
        if record.status == "pruned":
            step = int(record.curve[-1][0])
            text = f"Stopped early after {self.task.step_name} {step} as unpromising ({text})"
        if self.settings.curves and record.curve:
            text += f", Curve: {self.curve_text(record.curve)}"
        return text

    def curve_text(self, curve: list[list[float]], points: int = 5) -> str:
        """A curve in a few points, its first and last among them: '1: 5.2e-01, 3: 4.1e-01'."""
        if len(curve) > points:
            last = len(curve) - 1
            curve = [curve[round(i * last / (points - 1))] for i in range(points)]
        d = self.settings.digits
        return ", ".join(f"{int(step)}: {value:.{d}e}" for step, value in curve)

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

    def repeat_message(self, config: dict[str, Any], earlier: TrialRecord | TrialRequest) -> str:
        if isinstance(earlier, TrialRequest):  # out for evaluation: no result yet
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


def _chat_constraint(param: Param) -> str:
    low, high = getattr(param, "low", None), getattr(param, "high", None)
    if low is not None and high is not None:
        return f"must be in range ({low:g}, {high:g})"
    text = constraint_text(param)
    return text if text.startswith("must be") else f"must be {text}"


def constraint_text(param: Param) -> str:
    """The reference prompt's wording of a parameter's domain: 'between 0.0001 and 0.1',
    'positive float', 'must be ["adam", "sgd"]' for words, '32, 64, 128' for numbers."""
    if isinstance(param, CategoricalParam):
        if all(isinstance(c, str) for c in param.choices):
            return "must be " + json.dumps(list(param.choices))
        return ", ".join(json.dumps(c) for c in param.choices)
    if isinstance(param, GridParam):
        return "one of " + param.options_text()
    kind = "float" if isinstance(param, FloatParam) else "integer"
    low, high = param.low, param.high
    low_exclusive = isinstance(param, FloatParam) and param.low_exclusive
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}"
    if low == 0 and high is None:
        return f"positive {kind}" if low_exclusive else f"nonnegative {kind}"
    if isinstance(param, IntParam) and low == 1 and high is None:
        return "positive integer"
    return f"{kind} {range_text(low, high, low_exclusive)}"


def _answer_of(record: TrialRecord) -> str:
    """The model's own words for a round: its accepted answer, else its last attempt."""
    answer = record.tuner.get("answer")
    if answer is None and record.tuner.get("answers"):
        answer = record.tuner["answers"][-1]
    return answer if answer is not None else json.dumps(record.proposed)


def _last_round_error(history: list[TrialRecord]) -> str | None:
    """The reference shows the previous round's error (a failed training or a bad answer)."""
    if not history or history[-1].status in ("ok", "pruned"):  # a pruned trial is no error
        return None
    return history[-1].error
