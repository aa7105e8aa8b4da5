"""Checks of config values that every part shares: a whole number, a plain argument's type.

Each raises a ConfigError that names the key as the config spells it (`budget=ten`,
`tuner.n_startup_trials=abc`), before the value reaches code that would fail on it deep
inside with a TypeError.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from llmhpo.errors import ConfigError, Key


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
            named = Key(prefix, key) if prefix in ("tuner", "llm") else f"{prefix}.{key}"
            raise ConfigError(named, f" must be {names}, got {value!r}")


def _plain_types(hint: Any) -> tuple[type, ...]:
    """The types of a hint made only of int, float, bool, str and None; () for any other."""
    members = (
        typing.get_args(hint)
        if typing.get_origin(hint) in (typing.Union, types.UnionType)
        else (hint,)
    )
    plain = (int, float, bool, str, type(None))
    return tuple(members) if members and all(m in plain for m in members) else ()
