"""A tuner's name, as its run folder, its summary and the aggregation give it.

The name says which method a study ran, so that studies of different methods are never
averaged together: the tuner config's `name`, plus a suffix for each knob that makes it
another method (a BO fallback, hybrid knobs other than the defaults, a start from given
configurations). Knobs added after studies were recorded are left out of the recorded config
at their neutral value, so that earlier studies keep their folders.
"""

from __future__ import annotations

from typing import Any

# Tuner keys added after studies were recorded, at the value that changes nothing: left out
# of the recorded config, so that the folders (and fingerprints) of earlier studies still
# resume; set to anything else, they are recorded like every other key.
NEUTRAL_TUNER_KEYS = {"initial": [], "start_at_default": False}
# The same for keys of the prompt (at the top and in an LLM tuner's node) and for the pruner.
NEUTRAL_PROMPT_KEYS = {"curves": False}
NEUTRAL_PRUNER = {"name": "none"}
# tuner=hybrid's knobs at their defaults (conf/tuner/hybrid.yaml states the same values, and a
# test holds them equal); a hybrid with other values is named apart (_hybrid_suffix).
HYBRID_DEFAULTS = {"warm_start": 2, "llm_share": 0.3, "advise": False}


def without_neutral_keys(config: dict[str, Any]) -> dict[str, Any]:
    """`config` without the keys that hold their neutral value: the tuner keys of
    NEUTRAL_TUNER_KEYS, the prompt keys of NEUTRAL_PROMPT_KEYS and the pruner `none`."""
    config = dict(config)
    if config.get("pruner") == NEUTRAL_PRUNER:
        del config["pruner"]
    if isinstance(config.get("prompt"), dict):
        config["prompt"] = _without(config["prompt"], NEUTRAL_PROMPT_KEYS)
    tuner = config.get("tuner")
    if isinstance(tuner, dict):
        tuner = _without(tuner, NEUTRAL_TUNER_KEYS)
        if isinstance(tuner.get("prompt"), dict):
            tuner["prompt"] = _without(tuner["prompt"], NEUTRAL_PROMPT_KEYS)
        config["tuner"] = tuner
    return config


def with_tuner_llm(config: dict[str, Any]) -> dict[str, Any]:
    """`config` as a study records it: an LLM tuner's node holding the study's `llm` and
    `prompt`. The config tree has one of each, beside the tuner, which is given them when it
    is built; studies were first recorded with copies inside the tuner's node, and are still
    recorded so, which keeps their folders' names. A config has an `llm` node only where its
    tuner takes one (`assemble.check` refuses any other)."""
    tuner = config.get("tuner")
    if not isinstance(tuner, dict) or "llm" not in config:
        return config
    given = {key: config[key] for key in ("llm", "prompt") if key in config}
    return {**config, "tuner": {**tuner, **given}}


def _without(node: dict[str, Any], neutral: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in node.items() if neutral.get(k, object()) != v}


def tuner_label(tuner: dict[str, Any]) -> str:
    """The tuner's name as its run folder, its summary and the aggregation give it: its
    config's name, with the suffixes of a BO fallback, hybrid knobs other than the defaults
    and a start from given configurations. The one place a tuner's name is derived
    (make_tuner applies it)."""
    initial, start_at_default = tuner.get("initial"), bool(tuner.get("start_at_default"))
    return (
        str(tuner.get("name", "tuner"))
        + _fallback_suffix(tuner.get("on_invalid"))
        + _hybrid_suffix(tuner)
        + _start_suffix(initial, start_at_default)
    )


def pruner_suffix(pruner: Any) -> str:
    """What a pruner adds to a study's name in the aggregation (`random+asha`): a pruned study
    spends less per trial than a full one, so it is another method and is never averaged with
    it; nothing for `none` (and for studies recorded before pruners)."""
    name = pruner.get("name", "none") if isinstance(pruner, dict) else "none"
    return "" if name == "none" else f"+{name}"


def _fallback_suffix(on_invalid: Any) -> str:
    """What `tuner.on_invalid=bo` adds to an LLM tuner's name: `+bo-fallback`. Its invalid
    rounds are a Bayesian optimiser's, so it is another method than the LLM with random
    fallbacks and must not be averaged with it; the other fallbacks keep the plain name."""
    return "+bo-fallback" if on_invalid == "bo" else ""


def _hybrid_suffix(knobs: dict[str, Any]) -> str:
    """What a hybrid tuner's knobs add to its name where they differ from HYBRID_DEFAULTS
    (`+warm_start=3+llm_share=0.0` for experiment=llambo_warm_start): hybrids with other
    knobs are other methods, and one folder may hold several to compare."""
    if "llm_share" not in knobs:  # not a hybrid
        return ""
    return "".join(
        f"+{key}={str(knobs[key]).lower() if isinstance(knobs[key], bool) else knobs[key]}"
        for key, default in HYBRID_DEFAULTS.items()
        if key in knobs and knobs[key] != default
    )


def _start_suffix(initial: Any, start_at_default: bool) -> str:
    """What a start from given configurations (tuners/start.py) adds to the tuner's name:
    `+default`, `+initial`, both, or nothing; from the config alone, so that run folders and
    the aggregation name such a baseline apart from the plain tuner."""
    labels = (["default"] if start_at_default else []) + (["initial"] if initial else [])
    return "".join(f"+{label}" for label in labels)
