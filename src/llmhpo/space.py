"""The search space: what a tuner may propose and how a proposal is checked.

Every tuner proposes through the same `SearchSpace`, so random search, Bayesian
optimisation and an LLM are judged against identical bounds. This module holds the
parameter types, their seeded sampling and the validation whose messages can be shown to a
person or sent back to an LLM; each consumer translates the space into its own terms beside
its own code (Optuna's distributions in tuners/optuna_space.py, ConfigSpace in
tuners/smac.py, the JSON schema of an answer in tuners/llm/answers.py, the prompt's wording
in tuners/llm/prompts.py).
"""

from __future__ import annotations

import difflib
import json
import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from llmhpo.errors import ConfigError

Value = float | int | str | bool


class InvalidConfigError(ValueError):
    """A proposed configuration does not fit the search space.

    `problems` holds one sentence per defect so a caller (the LLM tuner) can
    send all of them back at once; `str()` joins them for a person.
    """

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("Invalid configuration: " + "; ".join(self.problems))


class SearchSpaceError(ConfigError):
    """The search-space config itself is malformed (a user's YAML, not a proposal)."""


def _fmt(value: float) -> str:
    """Short, exact-enough number formatting for messages and prompts."""
    return f"{value:g}"


def _as_number(value: Any) -> float | None:
    """Read a number the way an LLM may write it: 0.01, "0.01", " 1e-3 ".

    Booleans are not numbers here: `true` for a learning rate is a mistake worth
    reporting, not the value 1. An integer too large for a float reads as an
    infinity, which every parameter then rejects as not finite.
    """
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            return float(value.strip())
    except OverflowError:  # a whole number of 309 digits or more: too large to be a float
        return math.inf if value > 0 else -math.inf
    except ValueError:
        return None
    return None


@dataclass(frozen=True)
class FloatParam:
    """A real-valued parameter; `low`/`high` may be None for an unbounded side."""

    name: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    low_exclusive: bool = False
    logit: bool = False  # uniform in log(p / (1 - p)): a fraction in (0, 1), as Bayesmark warps

    def __post_init__(self) -> None:
        if self.log and self.logit:
            raise SearchSpaceError(f"'{self.name}' cannot be on both a log and a logit scale")

    def coerce(self, value: Any) -> float:
        number = _as_number(value)
        if number is None:
            raise ValueError(f"'{self.name}' must be a number, got {_short(value)}")
        if math.isnan(number) or math.isinf(number):
            raise ValueError(f"'{self.name}' must be a finite number, got {_short(value)}")
        _check_bounds(self.name, number, self.low, self.high, self.low_exclusive)
        if self.log and number <= 0:
            raise ValueError(f"'{self.name}' is on a log scale and must be > 0, got {_fmt(number)}")
        return number

    def sample(self, rng: np.random.Generator) -> float:
        low, high = finite_bounds(self)
        if self.log:
            return float(math.exp(rng.uniform(math.log(low), math.log(high))))
        if self.logit:
            return self.from_logit(rng.uniform(logit(low), logit(high)))
        return float(rng.uniform(low, high))

    def from_logit(self, warped: float) -> float:
        """The value at `warped` on the logit scale, kept within the bounds that rounding
        through log(p / (1 - p)) and back can cross by an ulp."""
        low, high = finite_bounds(self)
        return min(max(float(1.0 / (1.0 + math.exp(-warped))), low), high)

    def describe(self) -> str:
        scale = ", log scale" if self.log else ", logit scale" if self.logit else ""
        return f"{self.name}: float {range_text(self.low, self.high, self.low_exclusive)}{scale}"


@dataclass(frozen=True)
class IntParam:
    """An integer parameter; an integral float (64.0) or numeric string is accepted."""

    name: str
    low: int | None = None
    high: int | None = None
    log: bool = False

    def coerce(self, value: Any) -> int:
        number = _as_number(value)
        if number is None:
            raise ValueError(f"'{self.name}' must be an integer, got {_short(value)}")
        if math.isnan(number) or math.isinf(number):
            raise ValueError(f"'{self.name}' must be a finite integer, got {_short(value)}")
        if number != int(number):
            raise ValueError(f"'{self.name}' must be an integer, got {_fmt(number)}")
        integer = int(number)
        _check_bounds(self.name, integer, self.low, self.high, low_exclusive=False)
        return integer

    def sample(self, rng: np.random.Generator) -> int:
        low, high = finite_bounds(self)
        if self.log:
            # Log-uniform over [low - 0.5, high + 0.5) then rounded, as Optuna does,
            # so the end points are as likely as their log-width says.
            raw = math.exp(rng.uniform(math.log(low - 0.5), math.log(high + 0.5)))
            return int(min(max(round(raw), low), high))
        return int(rng.integers(low, high + 1))

    def describe(self) -> str:
        scale = ", log scale" if self.log else ""
        return f"{self.name}: integer {range_text(self.low, self.high, False)}{scale}"


@dataclass(frozen=True)
class CategoricalParam:
    """One of a fixed list of choices (strings, numbers or booleans).

    Matching forgives what LLMs get wrong without changing meaning: "SGD" for
    "sgd", "64" or 64.0 for 64.
    """

    name: str
    choices: tuple[Value | None, ...]

    def coerce(self, value: Any) -> Value | None:
        if isinstance(value, dict | list):
            raise ValueError(
                f"'{self.name}' must be one of {self.options_text()}, got {_short(value)}"
            )
        for choice in self.choices:
            if _same_choice(choice, value):
                return choice
        raise ValueError(f"'{self.name}' must be one of {self.options_text()}, got {_short(value)}")

    def sample(self, rng: np.random.Generator) -> Value:
        return self.choices[int(rng.integers(len(self.choices)))]

    def describe(self) -> str:
        return f"{self.name}: one of {self.options_text()}"

    def options_text(self) -> str:
        """The choices as messages and prompts show them: ['adam', 'sgd'], [32, 64, null]."""
        shown = (json.dumps(c) if c is None else repr(c) if isinstance(c, str) else str(c)
                 for c in self.choices)  # fmt: skip
        return "[" + ", ".join(shown) + "]"


@dataclass(frozen=True)
class GridParam:
    """One of an ordered set of numbers (a tabular benchmark's grid), log- or linearly spaced.

    Unlike a categorical, the values have an order and a distance: a proposal between two
    grid points is moved to the nearer one (measured in log space where `log`), so a tuner
    that thinks in continuous ranges (an LLM, a person) still lands on the table. The trial
    log keeps both: `proposed` as written, `config` as evaluated.
    """

    name: str
    values: tuple[float | int, ...]
    log: bool = False

    def coerce(self, value: Any) -> float | int:
        number = _as_number(value)
        if number is None:
            raise ValueError(f"'{self.name}' must be a number, got {_short(value)}")
        if math.isnan(number) or math.isinf(number):
            raise ValueError(f"'{self.name}' must be a finite number, got {_short(value)}")
        low, high = self.values[0], self.values[-1]
        if number < low and not math.isclose(number, low, rel_tol=1e-6):
            raise ValueError(f"'{self.name}' is {_fmt(number)}, below the smallest value {low}")
        if number > high and not math.isclose(number, high, rel_tol=1e-6):
            raise ValueError(f"'{self.name}' is {_fmt(number)}, above the largest value {high}")
        return self.values[self.nearest_index(number)]

    def nearest_index(self, number: float) -> int:
        """The position of the grid value nearest to `number` (in log space where `log`)."""
        scale = (lambda v: math.log(max(v, 1e-300))) if self.log else float
        target = scale(number)
        return min(range(len(self.values)), key=lambda i: abs(scale(self.values[i]) - target))

    def sample(self, rng: np.random.Generator) -> float | int:
        return self.values[int(rng.integers(len(self.values)))]

    def describe(self) -> str:
        spacing = "log-spaced" if self.log else "evenly spaced"
        return f"{self.name}: one of {self.options_text()} ({spacing} grid)"

    def index_of(self, value: Any) -> int:
        """The position of `value` on the grid (of the nearest grid value, for one between)."""
        return self.values.index(value) if value in self.values else self.nearest_index(value)

    def options_text(self) -> str:
        """The grid's values as messages and prompts show them: [0.001, 0.01, 0.1]."""
        shown = (_fmt(v) if isinstance(v, float) else str(v) for v in self.values)
        return "[" + ", ".join(shown) + "]"


Param = FloatParam | IntParam | CategoricalParam | GridParam


def _same_choice(choice: Value | None, value: Any) -> bool:
    if choice is None or value is None:  # null, as JSON writes it
        return choice is None and value is None
    if isinstance(choice, bool) or isinstance(value, bool):
        return isinstance(choice, bool) and isinstance(value, bool) and choice == value
    if isinstance(choice, str):
        return isinstance(value, str) and value.strip().lower() == choice.lower()
    number = _as_number(value)
    return number is not None and number == float(choice)


def _check_bounds(
    name: str, number: float, low: float | None, high: float | None, low_exclusive: bool
) -> None:
    if low is not None:
        if low_exclusive and number <= low:
            raise ValueError(f"'{name}' must be greater than {_fmt(low)}, got {_fmt(number)}")
        if number < low:
            raise ValueError(f"'{name}' is {_fmt(number)}, below the minimum {_fmt(low)}")
    if high is not None and number > high:
        raise ValueError(f"'{name}' is {_fmt(number)}, above the maximum {_fmt(high)}")


def logit(fraction: float) -> float:
    """log(p / (1 - p)): the coordinate in which a `scale: logit` parameter is uniform."""
    return math.log(fraction / (1.0 - fraction))


def finite_bounds(param: FloatParam | IntParam) -> tuple[float, float]:
    """Bounds for sampling (here and in a tuner's own terms); an unbounded parameter cannot
    be sampled uniformly."""
    if param.low is None or param.high is None:
        raise SearchSpaceError(
            f"'{param.name}' has no finite range ({range_text(param.low, param.high, False)}), "
            "so it cannot be sampled: random search and BO need bounds. "
            "Use a bounded space such as search_space=constrained."
        )
    return param.low, param.high


def range_text(low: float | None, high: float | None, low_exclusive: bool) -> str:
    if low is not None and high is not None:
        return (
            f"in [{_fmt(low)}, {_fmt(high)}]"
            if not low_exclusive
            else f"in ({_fmt(low)}, {_fmt(high)}]"
        )
    if low is not None:
        return f"> {_fmt(low)}" if low_exclusive else f">= {_fmt(low)}"
    if high is not None:
        return f"<= {_fmt(high)}"
    return "(any value)"


class SearchSpace:
    """An ordered set of named parameters, and optionally its `default` configuration (the
    one a study evaluates first with tuner.start_at_default=true)."""

    def __init__(
        self, params: list[Param], name: str = "custom", default: Mapping[str, Any] | None = None
    ):
        if not params:
            raise SearchSpaceError(f"search space '{name}' has no parameters")
        for param in params:
            check_parameter_name(name, param.name)
        self.name = name
        self.params: dict[str, Param] = {p.name: p for p in params}
        self.default: dict[str, Value] | None = None
        if default is not None:
            try:
                self.default = self.validate(dict(default))
            except InvalidConfigError as error:
                raise SearchSpaceError(f"search space '{name}': its default: {error}") from None

    def with_default(self, default: Mapping[str, Any]) -> SearchSpace:
        """The same parameters with `default` as the default configuration (validated: a
        grid value snaps to the nearest point)."""
        return SearchSpace(list(self.params.values()), self.name, default)

    @property
    def names(self) -> list[str]:
        return list(self.params)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> SearchSpace:
        """Build from a `search_space` config: `{name, parameters: {key: {type, ...}}}`."""
        name = str(cfg.get("name", "custom"))
        parameters = cfg.get("parameters")
        if not isinstance(parameters, Mapping) or not parameters:
            raise SearchSpaceError(
                f"search space '{name}' needs a non-empty 'parameters' mapping, got {parameters!r}"
            )
        extra = set(cfg) - {"name", "parameters", "default", "from_objective"}
        if extra:
            raise SearchSpaceError(
                f"search space '{name}': unknown key(s) {sorted(extra)}; a space has name, "
                "parameters and optionally default (a whole configuration)"
            )
        params = [_param_from_config(name, key, spec) for key, spec in parameters.items()]
        return cls(params, name, cfg.get("default"))

    @classmethod
    def from_dict(
        cls,
        parameters: Mapping[str, Any],
        name: str = "custom",
        default: Mapping[str, Any] | None = None,
    ) -> SearchSpace:
        """A space from a plain dict of parameters.

        Args:
            parameters: the entries under `parameters:` of a search-space config:
                `{"lr": {"type": "float", "low": 1e-5, "high": 0.1, "log": True}, ...}`.
            name: the space's name, in messages and the run folder's record.
            default: a whole configuration, evaluated first with start_at_default.

        Raises:
            SearchSpaceError: a malformed parameter, named with its field.
        """
        return cls.from_config({"name": name, "parameters": parameters, "default": default})

    @classmethod
    def from_yaml(cls, path: str | Path) -> SearchSpace:
        """A space from a YAML file.

        Args:
            path: a whole search-space config (`name`, `parameters`, as in
                conf/search_space/) or just its `parameters` mapping.

        Raises:
            SearchSpaceError: the file cannot be read, or a parameter is malformed.
        """
        import yaml
        from omegaconf import OmegaConf

        path = Path(path)
        try:  # OmegaConf's YAML, as Hydra reads conf/: 1e3 is the number 1000, not a string
            data = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
        except (OSError, yaml.YAMLError) as error:
            raise SearchSpaceError(f"cannot read the search space {path}: {error}") from None
        if isinstance(data, Mapping) and "parameters" in data:
            return cls.from_config({"name": path.stem, **data})
        return cls.from_config({"name": path.stem, "parameters": data})

    def to_config(self) -> dict[str, Any]:
        """The config this space is built from (`from_config` gives it back): what a run folder
        records, so that another space never resumes this study."""
        parameters = {name: _param_config(param) for name, param in self.params.items()}
        config: dict[str, Any] = {"name": self.name, "parameters": parameters}
        if self.default is not None:
            config["default"] = dict(self.default)
        return config

    def sample(self, rng: np.random.Generator) -> dict[str, Value]:
        return {name: param.sample(rng) for name, param in self.params.items()}

    def validate(self, proposal: Any) -> dict[str, Value]:
        """Coerce a proposal into a valid configuration.

        All defects are reported together (every missing, unknown and bad key),
        so one round trip to an LLM can fix them all.

        Args:
            proposal: what a tuner proposed (a mapping; values may be strings of numbers).

        Returns:
            The configuration, each value of its parameter's type (a grid value snapped).

        Raises:
            InvalidConfigError: with one sentence per defect in `problems`.
        """
        if not isinstance(proposal, Mapping):
            raise InvalidConfigError(
                [
                    f"expected a JSON object with keys {self.names}, got {type(proposal).__name__} "
                    f"{_short(proposal)}"
                ]
            )
        problems: list[str] = []
        config: dict[str, Value] = {}
        for key in proposal:
            if key not in self.params:
                problems.append(self._unknown_key_message(key))
        for name, param in self.params.items():
            if name not in proposal:
                problems.append(f"missing key '{name}' ({param.describe()})")
                continue
            try:
                config[name] = param.coerce(proposal[name])
            except ValueError as error:
                problems.append(f"{error} ({param.describe()})")
        if problems:
            raise InvalidConfigError(problems)
        return config

    def describe(self) -> str:
        """One line per parameter, for messages and logs."""
        return "\n".join(f"- {param.describe()}" for param in self.params.values())

    def _unknown_key_message(self, key: Any) -> str:
        normalised = str(key).strip().lower().replace(" ", "_").replace("-", "_")
        close = difflib.get_close_matches(normalised, self.names, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else f"; the keys are {self.names}"
        return f"unknown key '{key}'{hint}"


MAX_NAME_CHARS = 100


def check_parameter_name(space: str, name: Any) -> None:
    """A parameter's name, which every tuner and prompt must carry as it is: a string of 1 to
    MAX_NAME_CHARS characters (any script) without double quotes, backslashes or control
    characters. Those break the JSON schema's grammar (llama.cpp dies on a quote), a prompt's
    layout (a newline) or a person's reading of a message (a name of a thousand characters),
    so they are refused here, before any tuner sees the space."""
    if not isinstance(name, str):
        why = f"is a {type(name).__name__}, not a string"
    elif not name:
        why = "is empty"
    elif len(name) > MAX_NAME_CHARS:
        why = f"has {len(name)} characters, more than {MAX_NAME_CHARS}"
    elif any(char in '"\\' or unicodedata.category(char).startswith("C") for char in name):
        why = "holds a double quote, a backslash or a control character (a newline, a tab)"
    else:
        return
    shown = _short(name, 60)
    raise SearchSpaceError(
        f"search space '{space}': the parameter name {shown} {why}; name parameters with 1 to "
        f"{MAX_NAME_CHARS} characters, without double quotes, backslashes or control characters"
    )


def _param_config(param: Param) -> dict[str, Any]:
    if isinstance(param, CategoricalParam):
        return {"type": "categorical", "choices": list(param.choices)}
    if isinstance(param, GridParam):
        return {"type": "grid", "values": list(param.values), "log": param.log}
    spec = {"type": "float" if isinstance(param, FloatParam) else "int", "log": param.log}
    spec.update({k: v for k, v in (("low", param.low), ("high", param.high)) if v is not None})
    if isinstance(param, FloatParam) and param.low_exclusive:
        spec["low_exclusive"] = True
    if isinstance(param, FloatParam) and param.logit:  # only then: older records stay equal
        spec["scale"] = "logit"
    return spec


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _param_from_config(space: str, key: str, spec: Any) -> Param:
    where = f"search space '{space}', parameter '{key}'"
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise SearchSpaceError(
            f"{where}: expected a mapping with a 'type' (float, int, categorical, grid)"
        )
    kind = spec["type"]
    allowed = {
        "float": {"low", "high", "log", "low_exclusive", "scale"},
        "int": {"low", "high", "log", "scale"},
        "categorical": {"choices"},
        "grid": {"values", "log"},
    }
    if kind not in allowed:
        raise SearchSpaceError(
            f"{where}: unknown type {kind!r}; use float, int, categorical or grid"
        )
    extra = set(spec) - allowed[kind] - {"type"}
    if extra:
        raise SearchSpaceError(f"{where}: unknown field(s) {sorted(extra)} for type {kind}")
    log = _flag(where, "log", spec.get("log", False))
    scale = _scale(where, kind, spec.get("scale"), log)
    log = log or scale == "log"
    if kind == "categorical":
        return CategoricalParam(key, _choices(where, spec.get("choices")))
    if kind == "grid":
        return grid_param(key, spec.get("values"), log, where)
    low, high = (_bound(where, side, spec.get(side), kind) for side in ("low", "high"))
    if low is not None and high is not None and low >= high:
        raise SearchSpaceError(f"{where}: low ({low}) must be below high ({high})")
    if log and low is not None and low <= 0:
        raise SearchSpaceError(f"{where}: a log-scale parameter needs low > 0, got {low}")
    if scale == "logit" and (low is None or high is None or low <= 0 or high >= 1):
        raise SearchSpaceError(
            f"{where}: a logit-scale parameter is a fraction: it needs 0 < low < high < 1, "
            f"got low={low}, high={high}"
        )
    if kind == "float":
        exclusive = _flag(where, "low_exclusive", spec.get("low_exclusive", False))
        return FloatParam(key, low, high, log, exclusive, logit=scale == "logit")
    return IntParam(key, low, high, log)


SCALES = ("linear", "log", "logit")


def _scale(where: str, kind: str, scale: Any, log: bool) -> str:
    """`scale:` of a number (linear, log or logit: logit for floats only), agreeing with
    `log:` where both are given."""
    if scale is None:
        return "log" if log else "linear"
    if scale not in SCALES:
        raise SearchSpaceError(f"{where}: 'scale' must be one of {list(SCALES)}, got {scale!r}")
    if kind == "int" and scale == "logit":
        raise SearchSpaceError(
            f"{where}: an int cannot be on a logit scale (a fraction in (0, 1)); use a float"
        )
    if log and scale != "log":
        raise SearchSpaceError(f"{where}: 'log: true' and 'scale: {scale}' disagree; keep one")
    return scale


def _flag(where: str, field: str, value: Any) -> bool:
    """A yes/no field, which must be a boolean: the string "false" is true to Python."""
    if not isinstance(value, bool):
        raise SearchSpaceError(f"{where}: '{field}' must be true or false, got {value!r}")
    return value


def _bound(where: str, side: str, value: Any, kind: str) -> float | int | None:
    """`low` or `high` as a finite number (a whole one for an int parameter), or None."""
    if value is None:
        return None
    number = None if isinstance(value, bool) else value if isinstance(value, int | float) else None
    if number is None or not math.isfinite(number):
        raise SearchSpaceError(f"{where}: '{side}' must be a finite number, got {value!r}")
    if kind == "float":
        return float(number)
    if number != int(number):
        raise SearchSpaceError(f"{where}: '{side}' of an int must be a whole number, got {value!r}")
    return int(number)


def _choices(where: str, choices: Any) -> tuple[Value | None, ...]:
    """A categorical's choices: words, numbers, booleans or null, no two of which an answer
    could match alike (`"a"` and `"A"`, `64` and `"64"`: the second could never be chosen)."""
    if not isinstance(choices, list | tuple) or not choices:
        raise SearchSpaceError(f"{where}: 'choices' must be a non-empty list")
    for choice in choices:
        if choice is not None and not isinstance(choice, str | int | float | bool):
            raise SearchSpaceError(
                f"{where}: each choice must be a word, a number, true/false or null, got {choice!r}"
            )
        if isinstance(choice, float) and not math.isfinite(choice):
            raise SearchSpaceError(f"{where}: a choice must be finite, got {choice!r}")
    for i, first in enumerate(choices):
        for second in choices[i + 1 :]:
            if _same_choice(first, second):
                raise SearchSpaceError(
                    f"{where}: choices {first!r} and {second!r} read as the same answer; "
                    "keep one of them"
                )
    return tuple(choices)


def grid_param(name: str, values: Any, log: bool, where: str | None = None) -> GridParam:
    """A checked GridParam: at least two numbers, strictly increasing, positive where log."""
    where = where or f"parameter '{name}'"
    numbers = list(values) if isinstance(values, list | tuple) else None
    if (
        numbers is None
        or len(numbers) < 2
        or any(isinstance(v, bool) or not isinstance(v, int | float) for v in numbers)
    ):
        raise SearchSpaceError(f"{where}: 'values' must be a list of at least two numbers")
    if any(b <= a for a, b in zip(numbers, numbers[1:], strict=False)):
        raise SearchSpaceError(f"{where}: grid 'values' must be strictly increasing, got {numbers}")
    if log and numbers[0] <= 0:
        raise SearchSpaceError(f"{where}: a log-spaced grid needs values > 0, got {numbers[0]}")
    return GridParam(name, tuple(numbers), log)


def same_config(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """The same configuration, numbers equal to 12 significant digits: an LLM copying
    0.0015676677195506068 from its prompt writes 0.0015676677195506, and means the same."""
    if a.keys() != b.keys():
        return False
    return all(_same_value(a[k], b[k]) for k in a)


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):  # True is not the number 1 here
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-12)
    return a == b
