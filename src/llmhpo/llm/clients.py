"""Which client an `llm` config names, and what the config can be checked for before any work.

`provider: local` runs a GGUF model in-process (llm/local.py: the embedded SmolLM2-135M by
default); `provider: litellm` reaches any remote provider (llm/remote.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmhpo.checks import check_argument_types
from llmhpo.errors import ConfigError, Key
from llmhpo.llm.base import LLMClient
from llmhpo.llm.credentials import check_api_key_env
from llmhpo.llm.local import EMBEDDED_MODEL, LocalLlamaClient
from llmhpo.llm.remote import LiteLLMClient


def check_llm_config(cfg: Mapping[str, Any]) -> None:
    """An `llm` node's mistakes that would otherwise surface late or never: a key where its
    variable's name belongs, and a model name on the embedded model (which would label
    SmolLM2's answers as another model's in every record and table)."""
    check_api_key_env(cfg.get("api_key_env"))
    model = cfg.get("model", EMBEDDED_MODEL)
    if cfg.get("provider") == "local" and not cfg.get("model_path") and model != EMBEDDED_MODEL:
        raise ConfigError(
            Key("llm", "model", repr(model)), " with ", Key("llm", "provider", "local"),
            f": the model run in-process is the embedded {EMBEDDED_MODEL}; give ",
            Key("llm", "model_path", "FILE.gguf"), " to run another model here, or a remote "
            "model with llm=openai (provider: litellm)",
        )  # fmt: skip


def make_client(cfg: dict[str, Any], seed: int) -> LLMClient:
    """Build the client an `llm` config names (`provider`: local | litellm)."""
    settings = {k: v for k, v in cfg.items() if k not in ("provider", "cache", "cache_dir", "name")}
    if settings.get("seed") is None:  # llm.seed null: the run's seed
        settings["seed"] = seed
    provider = cfg.get("provider", "litellm")
    clients = {"local": LocalLlamaClient, "litellm": LiteLLMClient}
    if provider not in clients:
        raise ConfigError(Key("llm", "provider"), f" must be local or litellm, got {provider!r}")
    check_argument_types(clients[provider], settings, "llm")
    return clients[provider](**settings)
