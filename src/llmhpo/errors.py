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

import functools
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

Function = TypeVar("Function", bound=Callable[..., Any])


_NO_VALUE: Any = object()


@dataclass(frozen=True)
class Key:
    """A config key named in a message, with the value to set where the message advises one.
    Each door spells it its own way: the CLI's `tuner.on_invalid=random` is the Python API's
    keyword `on_invalid='random'` (an llm key: `llm={..., 'temperature': 0.7}`) and the
    sweeper's `hydra.sweeper.options.on_invalid=random`."""

    group: str  # tuner | llm | executor
    name: str
    value: Any = _NO_VALUE

    def spelled(self, door: str) -> str:
        given = self.value is not _NO_VALUE
        if door == "api":
            shown = repr(self.value) if isinstance(self.value, str) else str(self.value)
            if self.group == "tuner":
                return f"{self.name}={shown}" if given else self.name
            if given:
                return f"{self.group}={{..., {self.name!r}: {shown}}}"
            return f"the {self.group} dict's {self.name!r}"
        where = f"{self.group}."
        if door == "sweeper":
            where = "hydra.sweeper." + ("options." if self.group == "tuner" else f"{self.group}.")
        return where + self.name + (f"={self.value}" if given else "")


class LlmhpoError(Exception):
    """An expected failure with a complete message (exit status 1, one line). The message is
    made of text and `Key`s, spelled as the CLI spells keys unless a door re-spells it
    (`spoken_by`)."""

    exit_status = 1

    def __init__(self, *parts: str | Key):
        self.parts = parts
        super().__init__(self.spelled("cli"))

    def spelled(self, door: str) -> str:
        """The message with its keys spelled as `door` (cli, api, sweeper) takes them."""
        return "".join(p.spelled(door) if isinstance(p, Key) else str(p) for p in self.parts)


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


def spoken_by(door: str) -> Callable[[Function], Function]:
    """A door's function (a public method of the Python API, the sweep), whose LlmhpoError
    names config keys as `door` spells them. Where one door calls another (the sweeper drives
    the Python API), the outermost spelling is the one the user reads."""

    def decorate(function: Function) -> Function:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except LlmhpoError as error:
                error.args = (error.spelled(door),)
                raise

        return wrapper  # type: ignore[return-value]

    return decorate
