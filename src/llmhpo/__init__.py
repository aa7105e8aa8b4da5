"""llmhpo: hyperparameter optimisation with an LLM in the loop (Zhang et al., arXiv 2312.04528).

The Python API (see llmhpo.api): `llmhpo.Study`, `llmhpo.Trial`, `llmhpo.SearchSpace`, and
`llmhpo.report(step, value)` for an objective's learning curve (llmhpo.progress).
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["SearchSpace", "Study", "Trial", "TrialPruned", "report"]


def __getattr__(name: str) -> Any:
    """The API on first use: `python -m llmhpo.run` and every submodule import this package,
    and need not pay for the API's imports."""
    if name in ("Study", "Trial"):
        from llmhpo import api

        return getattr(api, name)
    if name in ("report", "TrialPruned"):
        from llmhpo import progress

        return getattr(progress, name)
    if name == "SearchSpace":
        from llmhpo.space import SearchSpace

        return SearchSpace
    raise AttributeError(f"module 'llmhpo' has no attribute {name!r}")
