"""What every LLM client speaks: the request, the response, the client protocol, the error.

Every client answers `complete(LLMRequest)` with an `LLMResponse` (text, tokens, cost).
Answers are bounded here: a server may ignore `max_tokens`, so text beyond
`MAX_ANSWER_CHARS` is cut on arrival and the response says how long it was; the tuner
rejects such an answer, and every stored copy (cache, trial log) stays small.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from llmhpo.errors import LlmhpoError

Message = dict[str, str]
# An answer longer than this is cut on arrival, and rejected unread by the tuner: a
# configuration, even after a chain-of-thought analysis, takes a few hundred characters. The
# bound keeps the reader's work and every stored copy small when a server ignores max_tokens.
MAX_ANSWER_CHARS = 20_000


class LLMError(LlmhpoError, RuntimeError):
    """The LLM could not be reached or refused the request; the study stops, nothing is lost."""


@dataclass(frozen=True)
class Sampling:
    """Per-call decoding overrides (the LLM tuner samples its retries)."""

    temperature: float
    seed: int


@dataclass(frozen=True)
class LLMRequest:
    """One question to an LLM: the conversation and how the answer must look."""

    messages: list[Message]
    schema: dict | None = None  # constrain the answer to this JSON schema where possible
    cot: bool = False  # an "Analysis:" line comes before the JSON
    sampling: Sampling | None = None  # override the client's temperature and seed
    max_tokens: int | None = None  # override the client's limit (LLAMBO's short predictions)
    n: int = 1  # answers wanted; a provider may give fewer (the local model gives one)
    # GBNF the answer must match where a client decodes locally (llama.cpp): a format the
    # prompt asks for in words, enforced for a model too small to follow it; remote providers
    # get the words alone
    grammar: str | None = None


@dataclass
class LLMResponse:
    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    seconds: float = 0.0
    cached: bool = False
    retries: list[str] = field(default_factory=list)  # why earlier tries of this call failed
    cut_from: int | None = None  # the answer's length when it was cut to MAX_ANSWER_CHARS
    alternatives: list[str] = field(default_factory=list)  # the further answers of an n > 1 call


def bounded_response(text: str, **fields: Any) -> LLMResponse:
    """An LLMResponse whose text is at most MAX_ANSWER_CHARS long (longer text is cut; the
    further answers of an n > 1 call are cut to the same bound)."""
    fields["alternatives"] = [a[:MAX_ANSWER_CHARS] for a in fields.get("alternatives", [])]
    if len(text) <= MAX_ANSWER_CHARS:
        return LLMResponse(text=text, **fields)
    return LLMResponse(text=text[:MAX_ANSWER_CHARS], cut_from=len(text), **fields)


class LLMClient(Protocol):
    model: str

    def complete(self, request: LLMRequest) -> LLMResponse: ...

    def request_key(self, request: LLMRequest) -> dict[str, Any]:
        """Everything that determines the answer (no secrets): the cache key."""
        ...


def decoding(client: Any, sampling: Sampling | None) -> tuple[float, int]:
    """The temperature and seed of one call: the request's sampling, else the client's own."""
    if sampling is None:
        return client.temperature, client.seed
    return sampling.temperature, sampling.seed


def answer_limit(client: Any, request: LLMRequest) -> int:
    """The most tokens an answer of `request` may take: its own limit, else the client's."""
    return request.max_tokens if request.max_tokens is not None else client.max_tokens
