"""Hydra's override grammar as an llmhpo search space, and configurations back as overrides.

The `hydra/sweeper=llmhpo` plugin reads `hydra.sweeper.params` and the command line the way
Hydra's Optuna sweeper does: `interval(a, b)` is a float range (Hydra reads its bounds as
floats), `int(interval(a, b))` an integer one, `tag(log, ...)` makes either log-scaled
(`tag(logit, interval(0.01, 0.99))` a float on the logit scale),
`range(start, stop, step)` is the grid of its values (stop excluded, as Hydra sweeps it), and
`choice(...)` a categorical; any other override is a fixed value passed to every job.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmhpo.errors import ConfigError
from llmhpo.space import SearchSpace

# A string that Hydra's grammar reads back as the same string without quotes.
_PLAIN = re.compile(r"[A-Za-z_][\w./-]*")
_WORDS_READ_AS_OTHERS = {"true", "false", "null", "nan", "inf"}


@dataclass
class SweepSpace:
    """What a sweep varies (`space`, and the override key of each of its parameters) and
    what it passes unchanged to every job (`fixed`, as override strings)."""

    space: SearchSpace
    keys: dict[str, str]  # parameter name -> its override key ("lr", "+extra", "db")
    fixed: list[str]

    def overrides(self, config: dict[str, Any]) -> list[str]:
        """One job's overrides: the fixed ones, then the configuration's values."""
        return [*self.fixed, *(f"{self.keys[n]}={override_value(v)}" for n, v in config.items())]


def sweep_space(
    overrides: Sequence[str], base: SearchSpace | None = None, config_loader: Any = None
) -> SweepSpace:
    """The space of `base` (an llmhpo search-space file's, or None) plus every sweep in
    `overrides` (hydra.sweeper.params first, then the command line: a later override of a
    key replaces an earlier one, so a fixed value on the command line pins a parameter).
    `config_loader` (the app's) lets `glob(...)` list a config group's options."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create(config_loader).parse_overrides(list(overrides))
    except HydraException as error:
        raise ConfigError(f"hydra/sweeper=llmhpo cannot read the overrides: {error}") from None
    last = {override.key_or_group: override for override in parsed}
    specs: dict[str, Any] = {}
    keys: dict[str, str] = {}
    fixed: list[str] = []
    if base is not None:
        for name, spec in base.to_config()["parameters"].items():
            if name not in last:
                specs[name], keys[name] = spec, name
    for name, override in last.items():
        if override.is_sweep_override():
            try:
                specs[name] = _spec(override)
            except HydraException as error:
                raise ConfigError(f"{override.input_line}: {error}") from None
            keys[name] = override.get_key_element()
        else:
            fixed.append(f"{override.get_key_element()}={override.get_value_element_as_str()}")
    if not specs:
        raise ConfigError(
            "hydra/sweeper=llmhpo has nothing to tune: give parameters as sweeps, e.g. "
            "hydra.sweeper.params.lr='tag(log, interval(1e-4, 1e-1))' or lr='interval(0, 1)' on "
            "the command line, or hydra.sweeper.search_space=path/to/space.yaml"
        )
    name = base.name if base is not None else "hydra"
    return SweepSpace(SearchSpace.from_dict(specs, name=name), keys, fixed)


def override_value(value: Any) -> str:
    """A value as Hydra's grammar reads it back unchanged: words plain, other strings quoted,
    floats in full precision."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _WORDS_READ_AS_OTHERS:
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _spec(override: Any) -> dict[str, Any]:
    """One sweep override as a search-space parameter spec (checked by SearchSpace)."""
    key = override.get_key_element()
    sweep = override.value()
    if override.is_interval_sweep():
        integer = isinstance(sweep.start, int) and isinstance(sweep.end, int)
        spec = {
            "type": "int" if integer else "float",
            "low": sweep.start,
            "high": sweep.end,
            "log": "log" in sweep.tags,
        }
        if "logit" in sweep.tags:
            spec["scale"] = "logit"
        return spec
    if override.is_range_sweep():
        values = list(override.sweep_iterator())
        return {"type": "grid", "values": values, "log": "log" in sweep.tags}
    if override.is_choice_sweep():
        choices = list(override.sweep_iterator())
        if any(isinstance(c, dict | list) for c in choices):
            raise ConfigError(
                f"{key}: hydra/sweeper=llmhpo chooses among numbers, words and booleans, "
                f"not lists or dicts ({choices})"
            )
        return {"type": "categorical", "choices": choices}
    raise ConfigError(
        f"{key}={override.get_value_element_as_str()}: hydra/sweeper=llmhpo reads interval(...), "
        "int(interval(...)), tag(log, ...), range(...), choice(...) and glob(...)"
    )
