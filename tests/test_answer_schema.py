"""The answer schema sent to the LLM against the space's own validation, parameter by parameter.

The schema constrains decoding (a grammar for the embedded model, structured output for a
provider), so a value it allows that the space refuses is a round the LLM cannot get right,
and a bound turned from exclusive to inclusive would let such values through. For each kind
of parameter and bound: every value the schema allows, the space accepts, and at the bounds
(and just past them) the two agree.
"""

import math

import jsonschema
import pytest

from llmhpo.space import InvalidConfigError, SearchSpace
from llmhpo.tuners.llm.answers import answer_schema

PARAMETERS = {
    "float": {"type": "float", "low": 0.1, "high": 0.9},
    "float_exclusive": {"type": "float", "low": 0.0, "high": 1.0, "low_exclusive": True},
    "float_log": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
    "float_logit": {"type": "float", "low": 0.01, "high": 0.99, "scale": "logit"},
    "float_low_only": {"type": "float", "low": 0.0, "low_exclusive": True},
    "float_high_only": {"type": "float", "high": 2.5},
    "int": {"type": "int", "low": 2, "high": 9},
    "int_log": {"type": "int", "low": 8, "high": 512, "log": True},
    "categorical": {"type": "categorical", "choices": ["adam", "sgd", 32, 0.5, True, None]},
    "grid": {"type": "grid", "values": [0.001, 0.01, 0.1], "log": True},
}


def near(value: float) -> list[float]:
    """`value`, the floats just beside it, and values a step of 1 and 0.5 away."""
    return [
        value,
        math.nextafter(value, -math.inf),
        math.nextafter(value, math.inf),
        value - 1,
        value + 1,
        value - 0.5,
        value + 0.5,
    ]


def candidates(spec: dict) -> list:
    """Values an answer could hold for a parameter: its bounds and around them, its choices,
    and values of other types."""
    values: list = ["text", None, True, [1], {"a": 1}, 0, 1, -1, 1e9, -1e9]
    for side in ("low", "high"):
        if side in spec:
            values += near(spec[side])
            if spec["type"] == "int":
                values += [int(spec[side]) - 1, int(spec[side]), int(spec[side]) + 1]
    values += spec.get("choices", []) + spec.get("values", [])
    values += [value * 1.5 for value in spec.get("values", [])]  # between grid points
    return values


def schema_allows(schema: dict, name: str, value) -> bool:
    try:
        jsonschema.validate({name: value}, schema)
    except jsonschema.ValidationError:
        return False
    return True


def space_accepts(space: SearchSpace, name: str, value) -> bool:
    try:
        space.validate({name: value})
    except InvalidConfigError:
        return False
    return True


def exact_number(value) -> bool:
    """A number as JSON writes it (no string, no boolean): the schema and the space must agree
    on these at the bounds; the space is more forgiving on the rest ("0.5", "SGD")."""
    return isinstance(value, int | float) and not isinstance(value, bool)


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_the_schema_allows_only_what_the_space_accepts_and_agrees_at_the_bounds(name):
    spec = PARAMETERS[name]
    space = SearchSpace.from_dict({name: spec})
    schema = answer_schema(space)
    jsonschema.Draft202012Validator.check_schema(schema)
    for value in candidates(spec):
        allowed, accepted = schema_allows(schema, name, value), space_accepts(space, name, value)
        assert accepted or not allowed, f"the schema allows {value!r}, which the space refuses"
        if spec["type"] in ("float", "int") and exact_number(value):
            assert allowed == accepted, f"{value!r}: schema {allowed}, space {accepted}"


def test_the_schema_holds_every_parameter_required_and_no_other_key():
    space = SearchSpace.from_dict(PARAMETERS)
    schema = answer_schema(space)
    config = {name: spec.get("low", 1) for name, spec in PARAMETERS.items()}
    config.update(float_exclusive=0.5, float_low_only=1.0, categorical="adam", grid=0.01)
    jsonschema.validate(config, schema)
    assert space.validate(config)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**config, "extra": 1}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({k: v for k, v in config.items() if k != "int"}, schema)
