"""A study's summary (summary.json): counts, the best trial, time spent, and what the tuner
adds of its own.

Computed from the trial records alone, so a resumed or merely reported study summarises
exactly as the run that did the work. The tuner contributes its own counters
(`Tuner.summary`: an LLM's calls, tokens and fallbacks, who proposed each round), so this
module knows no tuner's keys.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from llmhpo.store.trial_log import STATUSES, TrialRecord
from llmhpo.tuners.base import Tuner


def summarise(
    records: list[TrialRecord], budget: int, tuner: Tuner, objective: str
) -> dict[str, Any]:
    """The summary of `records` (a study's first `budget` rounds) run by `tuner`."""
    counts = Counter(record.status for record in records)
    ok = [r for r in records if r.status == "ok" and r.value is not None]
    best = min(ok, key=lambda r: r.value) if ok else None
    objective_seconds = sum(r.seconds for r in records)
    tuner_seconds = sum(r.ask_seconds for r in records)
    return {
        "objective": objective,
        "tuner": tuner.name,
        "budget": budget,
        "trials": len(records),
        "finished": len(records) >= budget,
        "status_counts": {status.value: counts.get(status, 0) for status in STATUSES},
        "best_round": best.round if best else None,
        "best_config": best.config if best else None,
        "best_value": best.value if best else None,
        "best_metrics": best.metrics if best else None,
        "seconds": {
            "objective": objective_seconds,
            "tuner": tuner_seconds,
            "total": objective_seconds + tuner_seconds,
        },
        **tuner.summary(records),
    }
