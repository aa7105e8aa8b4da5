"""Remote LLMs through litellm (OpenAI, Anthropic, Ollama, any OpenAI-compatible server),
with their retry policy.

Answers are constrained where the provider allows: JSON-schema structured output where
litellm says the model supports it, JSON mode otherwise; an OpenAI-compatible server
(`api_base`) is sent the schema in JSON mode, which llama.cpp's server and others read.
"""

from __future__ import annotations

import email.utils
import functools
import logging
import os
import time
from typing import Any

from llmhpo.errors import ConfigError, Key
from llmhpo.llm.base import (
    LLMError,
    LLMRequest,
    LLMResponse,
    answer_limit,
    bounded_response,
    decoding,
)
from llmhpo.llm.credentials import api_key, check_api_key_env, redact

log = logging.getLogger(__name__)

RESPONSE_FORMATS = ("auto", "json_schema", "json_object", "json_object_schema", "none")


def _litellm() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no price-map download
    import litellm

    litellm.suppress_debug_info = True
    return litellm


class LiteLLMClient:
    """OpenAI, Anthropic, Ollama or any OpenAI-compatible server (`api_base`), via litellm.

    Retries: 429, 5xx, timeouts, connection errors and unreadable bodies are
    retried up to `max_retries` times with exponential backoff, waiting what a
    Retry-After header asks (capped by `max_wait`); other errors (bad key, bad
    request) stop at once with the provider's message.
    """

    def __init__(
        self,
        model: str,
        api_base: str | None = None,
        api_key_env: str | None = None,
        temperature: float = 0.0,
        seed: int = 0,
        max_tokens: int = 1000,
        timeout: float = 60.0,
        max_retries: int = 5,
        backoff: float = 1.0,
        max_wait: float = 60.0,
        response_format: str = "auto",
    ):
        if response_format not in RESPONSE_FORMATS:
            raise ConfigError(
                Key("llm", "response_format"),
                f" must be one of {RESPONSE_FORMATS}, got {response_format!r}",
            )
        check_api_key_env(api_key_env)
        self.model, self.api_base, self.api_key_env = model, api_base, api_key_env
        self.temperature, self.seed, self.max_tokens = temperature, seed, max_tokens
        self.timeout, self.max_retries = timeout, max_retries
        self.backoff, self.max_wait = backoff, max_wait
        self.response_format = response_format
        self._api_key()  # a missing key fails now, before any training

    def _api_key(self) -> str | None:
        return api_key(self.model, self.api_key_env)

    @functools.cached_property
    def _mode(self) -> str:
        """`response_format`, with `auto` settled once (it asks litellm about the model)."""
        if self.response_format != "auto":
            return self.response_format
        if self.api_base:  # an OpenAI-compatible server: llama.cpp and others read the schema
            return "json_object_schema"
        try:
            supported = bool(_litellm().supports_response_schema(model=self.model))
        except Exception:  # unknown model: litellm cannot say
            supported = False
        return "json_schema" if supported else "json_object"

    def _format(self, schema: dict | None, cot: bool) -> dict[str, Any] | None:
        mode = self._mode
        if schema is None or cot or mode == "none":
            return None
        if mode == "json_schema":
            return {"type": "json_schema", "json_schema": {"name": "config", "schema": schema}}
        if mode == "json_object_schema":  # llama.cpp's server and others read the schema here
            return {"type": "json_object", "schema": schema}
        return {"type": "json_object"}

    def request_key(self, request: LLMRequest) -> dict[str, Any]:
        temperature, seed = decoding(self, request.sampling)
        return {
            "backend": "litellm",
            "model": self.model,
            "api_base": self.api_base,
            "messages": request.messages,
            "response_format": self._format(request.schema, request.cot),
            "temperature": temperature,
            "seed": seed,
            "max_tokens": answer_limit(self, request),
            **({"n": request.n} if request.n > 1 else {}),
        }

    def complete(self, request: LLMRequest) -> LLMResponse:
        litellm = _litellm()
        temperature, seed = decoding(self, request.sampling)
        call = {
            "model": self.model,
            "messages": request.messages,
            "temperature": temperature,
            "seed": seed,
            "max_tokens": answer_limit(self, request),
            "timeout": self.timeout,
            "num_retries": 0,  # retried here, where the log can say why
            "max_retries": 0,
        }
        if self.api_base:
            call["api_base"] = self.api_base
        if request.n > 1:  # a provider that ignores n answers once; the caller asks again
            call["n"] = request.n
        response_format = self._format(request.schema, request.cot)
        if response_format:
            call["response_format"] = response_format
        key = self._api_key()
        # A keyless server (llama.cpp, vLLM) still needs a placeholder for the SDK.
        api_key = key or ("no-key" if self.api_base else None)
        failures: list[str] = []
        started = time.perf_counter()
        for attempt in range(self.max_retries + 1):
            try:
                response = litellm.completion(api_key=api_key, **call)
                texts = [choice.message.content for choice in response.choices]
                if not texts or texts[0] is None:
                    raise ValueError("the response has no message content")
                # An answer is provider text too: a server that echoes the request's headers
                # would otherwise carry the key into the trial log, the cache and the terminal.
                texts = [redact(text, [key]) for text in texts if text is not None]
                break
            except Exception as error:  # classified below: retried, or raised with its message
                why = f"{type(error).__name__}: {_first_line(redact(str(error), [key]))}"
                if not _retryable(litellm, error) or attempt == self.max_retries:
                    # `from None`: the provider's own exception (whose text may hold the key)
                    # must not be printed with the traceback either.
                    raise LLMError(_describe_failure(self.model, why, failures)) from None
                wait = _wait_seconds(error, attempt, self.backoff, self.max_wait)
                failures.append(f"{why} (waited {wait:.1f}s)")
                log.warning("LLM call failed (%s); retrying in %.1fs", failures[-1], wait)
                time.sleep(wait)
        usage = getattr(response, "usage", None)
        return bounded_response(
            texts[0],
            alternatives=texts[1:],
            model=self.model,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            cost_usd=_cost(litellm, response),
            seconds=time.perf_counter() - started,
            retries=failures,
        )


def _retryable(litellm: Any, error: Exception) -> bool:
    fatal = (
        litellm.exceptions.AuthenticationError,
        litellm.exceptions.PermissionDeniedError,
        litellm.exceptions.NotFoundError,
        litellm.exceptions.BadRequestError,
        litellm.exceptions.UnprocessableEntityError,
    )
    if isinstance(error, fatal) and not isinstance(
        error, litellm.exceptions.ContextWindowExceededError
    ):
        return False
    status = getattr(error, "status_code", None)
    return status is None or status in (408, 409, 429) or status >= 500


def _wait_seconds(error: Exception, attempt: int, backoff: float, max_wait: float) -> float:
    """Retry-After when the server gave one (seconds or HTTP date), else 1, 2, 4, ... x backoff."""
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None) or {}
    retry_after = headers.get("retry-after") if hasattr(headers, "get") else None
    if retry_after:
        try:
            return min(max(float(retry_after), 0.0), max_wait)
        except ValueError:
            when = email.utils.parsedate_to_datetime(retry_after)
            if when is not None:
                return min(max(when.timestamp() - time.time(), 0.0), max_wait)
    return min(backoff * 2**attempt, max_wait)


def _cost(litellm: Any, response: Any) -> float | None:
    """Cost from litellm's bundled price map; None for models it has no price for."""
    try:
        return float(litellm.completion_cost(completion_response=response))
    except Exception:  # unpriced model (a local server, a new release): cost unknown, not zero
        return None


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0][:300] if lines else "(no message)"


def _describe_failure(model: str, why: str, failures: list[str]) -> str:
    tried = f" after {len(failures) + 1} tries ({'; '.join(failures)})" if failures else ""
    return (
        f"the LLM ({model}) did not answer{tried}: {why}. "
        "Finished trials are saved; run the same command again to resume."
    )
