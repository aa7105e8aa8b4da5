"""Reading an LLM's answer: the configuration in it, or a reason to send back.

A small model (and a large one, now and then) answers with prose around the JSON, code
fences, single quotes, a wrapper key, or something that is not JSON at all. Every way an
answer can fail to read is an `AnswerParseError` or an `InvalidConfigError` whose message is
written for the LLM, never a crash: a cached answer would otherwise crash every rerun of the
study too. The reader is linear in the answer's length and refuses deep nesting, so a
hostile or runaway answer costs little.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from llmhpo.llm.base import MAX_ANSWER_CHARS
from llmhpo.space import (
    CategoricalParam,
    FloatParam,
    GridParam,
    InvalidConfigError,
    Param,
    SearchSpace,
)


class AnswerParseError(ValueError):
    """No usable configuration in an LLM's answer; the message says why, for the LLM."""


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


def answer_schema(space: SearchSpace) -> dict[str, Any]:
    """The JSON schema an answer must match: the clients constrain decoding to it where the
    backend allows (a grammar for the embedded model, structured output for a provider)."""
    return {
        "type": "object",
        "properties": {name: _param_schema(param) for name, param in space.params.items()},
        "required": space.names,
        "additionalProperties": False,
    }


def _param_schema(param: Param) -> dict[str, Any]:
    if isinstance(param, CategoricalParam):
        return {"enum": list(param.choices)}
    if isinstance(param, GridParam):
        return {"enum": list(param.values)}
    bounds: dict[str, float] = {}
    low_exclusive = isinstance(param, FloatParam) and param.low_exclusive
    if param.low is not None:
        bounds["exclusiveMinimum" if low_exclusive else "minimum"] = param.low
    if param.high is not None:
        bounds["maximum"] = param.high
    return {"type": "number" if isinstance(param, FloatParam) else "integer", **bounds}
