"""API keys: named by their environment variable, read at call time, scrubbed from answers.

Keys are read from the environment when a call is made and passed straight to litellm:
never stored in the config, the trial log or the cache. A provider's text is the one way a
key could come back (a proxy that echoes the request's Authorization header in an error
body, or in a 200 answer): `redact` scrubs every provider text, answers and errors alike,
where it enters llmhpo, before it is logged, stored, cached or raised.
"""

from __future__ import annotations

import os
import re
from typing import Any

from llmhpo.errors import ConfigError, Key
from llmhpo.llm.base import LLMError


class MissingAPIKeyError(LLMError, ConfigError):
    """The provider needs a key and its environment variable is empty."""


ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_api_key_env(name: Any) -> None:
    """`name` must name an environment variable: a key pasted in its place would be echoed and
    written to the run's records, so it is refused without showing it."""
    if name is not None and not (isinstance(name, str) and ENV_NAME.fullmatch(name)):
        raise ConfigError(
            Key("llm", "api_key_env"), " must be the name of the environment variable that "
            "holds the key (letters, digits and _, such as OPENAI_API_KEY), not the key itself; "
            "the value given is not shown",
        )  # fmt: skip


def api_key(model: str, api_key_env: str | None) -> str | None:
    """The key in `api_key_env` (None where the model needs none), or MissingAPIKeyError."""
    if not api_key_env:
        return None
    key = os.environ.get(api_key_env)
    if not key:
        raise MissingAPIKeyError(
            Key("llm", "model", model), " needs an API key in the environment variable "
            f"{api_key_env}, which is not set. Export it (export {api_key_env}=...), "
            "or run offline with the embedded model: llm=local",
        )  # fmt: skip
    return key


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
