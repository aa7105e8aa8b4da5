"""A replay cache for LLM calls, so an identical rerun needs no network and gives the same answers.

One JSON file per request, named by the SHA-256 of everything that determines the
answer (model, messages, decoding parameters, output constraint), never the key.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from llmhpo.llm.base import LLMClient, LLMRequest, LLMResponse
from llmhpo.store.files import write_json_atomic

log = logging.getLogger(__name__)


class CachedClient:
    def __init__(self, inner: LLMClient, folder: Path):
        self.inner = inner
        self.folder = Path(folder)
        self.model = inner.model

    def request_key(self, request: LLMRequest) -> dict[str, Any]:
        return self.inner.request_key(request)

    def complete(self, request: LLMRequest) -> LLMResponse:
        key = self.inner.request_key(request)
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
        path = self.folder / digest[:2] / f"{digest}.json"
        if path.exists():
            try:
                stored = json.loads(path.read_text(encoding="utf-8"))["response"]
                return LLMResponse(**{**stored, "cached": True, "retries": []})
            except (OSError, ValueError, KeyError, TypeError) as error:
                log.warning("Ignoring unreadable LLM cache entry %s (%s)", path, error)
        response = self.inner.complete(request)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, {"request": key, "response": asdict(response)})
        return response
