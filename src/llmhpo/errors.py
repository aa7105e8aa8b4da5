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
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any


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


def whole_number(value: Any, key: str, meaning: str, minimum: int | None = 1) -> int:
    """`value` as an int, or ConfigError naming `key` (`budget=ten`, `seed=abc`, `budget=0`)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        number = None
    else:
        try:
            number = int(value)
        except ValueError:
            number = None
    if number is None or (minimum is not None and number < minimum):
        bound = f" >= {minimum}" if minimum is not None else ""
        raise ConfigError(f"{key} must be a whole number{bound} ({meaning}), got {value!r}")
    return number


def check_argument_types(
    target: Callable[..., Any], arguments: Mapping[str, Any], prefix: str
) -> None:
    """Each of `arguments` whose parameter of `target` is annotated as a plain int, float, bool
    or str (or one of them or None) has that type, or ConfigError naming `prefix.key`: a
    config value of the wrong type would otherwise be a TypeError deep in the code
    (`tuner.n_startup_trials=abc`, `llm.temperature=hot`)."""
    try:
        hints = typing.get_type_hints(target.__init__ if isinstance(target, type) else target)
    except (NameError, TypeError):  # annotations that cannot be resolved: nothing to check
        return
    for key, value in arguments.items():
        allowed = _plain_types(hints.get(key))
        if not allowed or (value is None and type(None) in allowed):
            continue
        if isinstance(value, bool) and bool not in allowed:
            ok = False  # True is an int to Python, never to a config
        elif isinstance(value, int) and float in allowed:
            ok = True  # 1 is a fine float
        else:
            ok = isinstance(value, tuple(t for t in allowed if t is not type(None)))
        if not ok:
            names = " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
            raise ConfigError(f"{prefix}.{key} must be {names}, got {value!r}")


def _plain_types(hint: Any) -> tuple[type, ...]:
    """The types of a hint made only of int, float, bool, str and None; () for any other."""
    members = (
        typing.get_args(hint)
        if typing.get_origin(hint) in (typing.Union, types.UnionType)
        else (hint,)
    )
    plain = (int, float, bool, str, type(None))
    return tuple(members) if members and all(m in plain for m in members) else ()


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
