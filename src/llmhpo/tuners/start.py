"""Default-first baselines: any tuner, started from given configurations.

`tuner.start_at_default=true` evaluates the search space's default first (the library's
defaults for the tabular spaces), `tuner.initial=[...]` the listed configurations (after the
default, if both); then the tuner proposes as usual, having heard their results. An LLM's
early lead may come from proposing a sensible default first (arXiv 2606.21641): random
search and BO started from the same configuration make the comparison fair.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmhpo.errors import ConfigError, Key
from llmhpo.space import InvalidConfigError, SearchSpace
from llmhpo.store import TrialRecord
from llmhpo.tuners.base import FrontTuner, Proposal, Tuner


def start_from(
    inner: Tuner,
    space: SearchSpace,
    initial: Sequence[Mapping[str, Any]],
    start_at_default: bool,
    first: Sequence[Mapping[str, Any]] = (),
) -> Tuner:
    """`inner`, started from the space's default, then `first` (a benchmark's own starting
    configurations), then `initial` (all checked against the space here, before any trial);
    `inner` itself when none is asked for. Where the space has no default, a benchmark's
    starting configurations are its default-first start (Bayesmark's, which every tuner
    evaluates first), so start_at_default adds nothing there instead of being refused."""
    configs: list[dict[str, Any]] = []
    if start_at_default and space.default is None and not first:
        raise ConfigError(
            Key("tuner", "start_at_default", "true"),
            f", but the search space '{space.name}' has no "
            "default: add `default:` (a whole configuration) to its YAML, or list the "
            "first configurations in ",
            Key("tuner", "initial"),
        )
    if start_at_default and space.default is not None:
        configs.append(dict(space.default))
    configs += [space.validate(dict(config)) for config in first]  # the benchmark's: checked
    for index, config in enumerate(initial or []):
        try:
            configs.append(space.validate(dict(config)))
        except (InvalidConfigError, TypeError, ValueError) as error:
            why = f"[{index}] is not in the search space: {error}"
            raise ConfigError(Key("tuner", "initial"), why) from None
    if not configs:
        return inner
    return GivenStart(inner, configs)


class GivenStart(FrontTuner):
    """Proposes `configs` in rounds 0..len-1, then hands over to `inner`, which reads every
    round (the given ones as another tuner's)."""

    def __init__(self, inner: Tuner, configs: list[dict[str, Any]]):
        super().__init__(inner.space, inner.seed, inner.name, inner.task, inner.folder)
        self.inner = inner
        self.configs = configs
        self.trials = inner.trials

    def ask(self) -> Proposal:
        if self.round < len(self.configs):
            return Proposal(dict(self.configs[self.round]), {"proposer": "initial"})
        return self.inner.ask()

    def inner_owns(self, record: TrialRecord) -> bool:
        return record.round >= len(self.configs)
