"""The errors whose message says everything a person needs, so `run.py` prints them as one line.

`LlmhpoError`: the message names the problem and what to do; a traceback would only hide it.
`ConfigError`: a mistake in the configuration, found before any trial runs wherever the
config alone shows it (exit status 2, as for a command-line usage error). Anything else is a
real crash and keeps its traceback.
"""

from __future__ import annotations

from typing import Any


class LlmhpoError(Exception):
    """An expected failure with a complete message (exit status 1, one line)."""


class ConfigError(LlmhpoError, ValueError):
    """A mistake in the configuration or the command line (exit status 2, one line)."""


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
