"""The errors whose message says everything a person needs, so the doors print them as one line.

`LlmhpoError`: the message names the problem and what to do; a traceback would only hide it.
`ConfigError`: a mistake in the configuration, found before any trial runs wherever the
config alone shows it (exit status 2, as for a command-line usage error). Each error carries
its exit status, the same at every door that is a command (the `llmhpo` CLI, the Hydra
sweeper): 2 for a mistake in the configuration, 3 for a folder in use by another process
(`store.folder.FolderBusyError`), 1 for the rest. Anything else is a real crash and keeps its
traceback.
"""

from __future__ import annotations

import logging
import re
import sys


class LlmhpoError(Exception):
    """An expected failure with a complete message (exit status 1, one line)."""

    exit_status = 1


class ConfigError(LlmhpoError, ValueError):
    """A mistake in the configuration or the command line (exit status 2, one line)."""

    exit_status = 2


def print_error(error: LlmhpoError) -> None:
    """`llmhpo: error: MESSAGE` on stderr, and the same line in the run's log file where
    logging writes one (Hydra's run.log): how a command door says an expected failure."""
    logger = logging.getLogger("llmhpo")
    record = logger.makeRecord(logger.name, logging.ERROR, __file__, 0, "%s", (error,), None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)
    print(f"llmhpo: error: {error}", file=sys.stderr)


def one_line(message: str) -> str:
    """A multi-line message (Hydra's, say) as one line: lines joined by '; ', an indented list
    after a line ending with ':' joined by ', ', Hydra's search-path listing left out."""
    parts: list[str] = []
    for line in message.split("Config search path:")[0].splitlines():
        if not line.strip():
            continue
        if line[:1].isspace() and parts and parts[-1].endswith((":", ",")):
            parts[-1] += (" " if parts[-1].endswith(":") else " ") + line.strip() + ","
        else:
            parts.append(line.strip())
    return "; ".join(part.rstrip(",") for part in parts)


# How each door spells a config key that a message names: the CLI's `tuner.on_invalid=random`
# is the Python API's keyword `on_invalid='random'` and the sweeper's
# `hydra.sweeper.options.on_invalid=random`.
_KEY = re.compile(r"(?<![.\w])(tuner|llm)\.([a-z_]+)(?:=([^\s,;)]+?))?(?=[\s,;:)]|\.(?:\s|$)|$)")
_LITERAL = re.compile(r"-?[\d.]+(e-?\d+)?|true|false|null|None|True|False")


def spell_keys(message: str, door: str) -> str:
    """`message` with its `tuner.KEY` and `llm.KEY` spelled as `door` (cli, api or sweeper)
    takes them, so that a hint names what the reader can actually set."""
    if door == "cli":
        return message

    def spelled(match: re.Match[str]) -> str:
        group, key, value = match.groups()
        if door == "sweeper":
            where = "options" if group == "tuner" else "llm"
            return f"hydra.sweeper.{where}.{key}" + (f"={value}" if value else "")
        shown = value if value is None or _LITERAL.fullmatch(value) else repr(value)
        if group == "tuner":
            return f"{key}={shown}" if value else key
        return f"llm={{..., {key!r}: {shown}}}" if value else f"the llm dict's {key!r}"

    return _KEY.sub(spelled, message)
