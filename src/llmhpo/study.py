"""The tuning loop: ask, evaluate, log, tell, until the budget is spent.

The trial log is written before the tuner hears the result, so the log is
always at least as far along as any tuner state. Resuming replays the log
through `tell` and continues at the first missing round.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

from llmhpo.errors import ConfigError, LlmhpoError
from llmhpo.objectives.base import Objective
from llmhpo.run_folder import SUMMARY_FILE, TRIALS_FILE, DamagedFileError, read_json
from llmhpo.space import InvalidConfigError, SearchSpace
from llmhpo.trial_log import STATUSES, TrialLog, TrialRecord, write_json_atomic
from llmhpo.tuners.base import Tuner

log = logging.getLogger(__name__)


class TunerGaveUpError(LlmhpoError):
    """The tuner could not propose a configuration and was told to stop (tuner.on_invalid=fail)."""


class Study:
    """One study in one folder: `budget` rounds of ask -> validate -> evaluate -> log -> tell.

    The trial log is its only state, so the same Study over the same folder resumes exactly
    where a killed one stopped. It knows nothing of what a trial computes (the objective) or
    how proposals are made (the tuner).
    """

    def __init__(
        self,
        folder: Path,
        space: SearchSpace,
        tuner: Tuner,
        objective: Objective,
        budget: int,
    ):
        if budget < 1:
            raise ConfigError(f"budget must be at least 1 trial, got {budget}")
        self.folder = Path(folder)
        self.space = space
        self.tuner = tuner
        self.objective = objective
        self.budget = budget
        self.trial_log = TrialLog(self.folder / TRIALS_FILE)

    def run(self) -> dict[str, Any]:
        """Run (or resume, or just summarise) the study; returns the summary."""
        records = self.trial_log.read()
        for record in records:
            self.tuner.tell(record)
        if len(records) >= self.budget:
            log.info(
                "Study in %s is already finished (%d of %d trials); not rerun",
                self.folder,
                len(records),
                self.budget,
            )
        elif records:
            log.info("Resuming %s: %d of %d trials done", self.folder, len(records), self.budget)
        else:
            log.info(
                "Study in %s, search space %s:\n%s",
                self.folder,
                self.space.name,
                self.space.describe(),
            )
        for round_index in range(len(records), self.budget):
            record, fatal = self._run_trial(round_index)
            self.trial_log.append(record)
            self.tuner.tell(record)
            records.append(record)
            log.info("%s", _describe(record))
            if fatal:
                raise TunerGaveUpError(
                    f"round {round_index}: {record.error}. The round is logged as invalid in "
                    f"{self.trial_log.path}; rerun to go on from the next round, or set "
                    "tuner.on_invalid=random (fall back to a random configuration) or a larger "
                    "tuner.max_attempts."
                )
        summary = summarise(
            records[: self.budget], self.budget, self.tuner.name, self.objective.name
        )
        if summary["finished"] and summary["best_config"] is not None:
            summary["test"] = self._test_best(summary, records[summary["best_round"]])
        write_json_atomic(self.folder / SUMMARY_FILE, summary)
        return summary

    def _test_best(self, summary: dict[str, Any], best: TrialRecord) -> dict[str, Any] | None:
        """Test-split metrics of the best configuration, for objectives that have a test split.

        Taken from the trial when it measured them, from an earlier summary of
        the same study, or else by the objective's `test` (which may retrain).
        """
        if self.objective.test is None:
            return None
        measured = _test_metrics(best.metrics)
        if measured:
            return measured
        try:
            previous = read_json(self.folder / SUMMARY_FILE)
        except DamagedFileError:  # none yet, or damaged: it is rewritten at the end anyway
            previous = {}
        if previous.get("best_round") == summary["best_round"] and previous.get("test"):
            return previous["test"]
        log.info("Measuring the best configuration (round %d) on the test split", best.round)
        try:
            return _test_metrics(self.objective.test(best.config))
        except Exception as error:  # the study's results stand even if this extra step fails
            log.exception("Testing the best configuration failed")
            return {"error": f"{type(error).__name__}: {error}"}

    def _run_trial(self, round_index: int) -> tuple[TrialRecord, bool]:
        """The finished record, and whether the tuner asked to stop the study."""
        started = time.perf_counter()
        proposal = self.tuner.ask()
        ask_seconds = time.perf_counter() - started
        record = TrialRecord(
            round=round_index,
            status="ok",
            config=None,
            proposed=proposal.config,
            ask_seconds=ask_seconds,
            tuner=proposal.info,
        )
        if proposal.config is None:
            record.status, record.error = "invalid", proposal.error or "the tuner proposed nothing"
            return record, proposal.fatal
        try:
            record.config = self.space.validate(proposal.config)
        except InvalidConfigError as error:
            record.status, record.error = "invalid", str(error)
            return record, False
        started = time.perf_counter()
        try:
            evaluation = self.objective.evaluate(record.config)
            if not math.isfinite(evaluation.value):
                raise ValueError(f"the objective returned a non-finite value ({evaluation.value})")
            record.value, record.metrics = float(evaluation.value), dict(evaluation.metrics)
        except Exception as error:  # a failing trial is data, not a reason to stop the study
            log.exception("Trial %d failed", round_index)
            record.status, record.error = "failed", f"{type(error).__name__}: {error}"
        record.seconds = time.perf_counter() - started
        return record, False


def summarise(
    records: list[TrialRecord], budget: int, tuner: str, objective: str
) -> dict[str, Any]:
    counts = Counter(record.status for record in records)
    ok = [r for r in records if r.status == "ok" and r.value is not None]
    best = min(ok, key=lambda r: r.value) if ok else None
    objective_seconds = sum(r.seconds for r in records)
    tuner_seconds = sum(r.ask_seconds for r in records)
    summary = {
        "objective": objective,
        "tuner": tuner,
        "budget": budget,
        "trials": len(records),
        "finished": len(records) >= budget,
        "status_counts": {status: counts.get(status, 0) for status in STATUSES},
        "best_round": best.round if best else None,
        "best_config": best.config if best else None,
        "best_value": best.value if best else None,
        "best_metrics": best.metrics if best else None,
        "seconds": {
            "objective": objective_seconds,
            "tuner": tuner_seconds,
            "total": objective_seconds + tuner_seconds,
        },
    }
    llm = [r.tuner for r in records if "prompt_tokens" in r.tuner]
    if llm:
        costs = [info.get("cost_usd") for info in llm]
        summary["llm"] = {
            "calls": sum(info.get("attempts", 0) for info in llm),
            "cached_calls": sum(info.get("cached_calls", 0) for info in llm),
            "prompt_tokens": sum(info["prompt_tokens"] for info in llm),
            "completion_tokens": sum(info.get("completion_tokens", 0) for info in llm),
            "cost_usd": None if any(c is None for c in costs) else sum(costs),
            "first_try_valid": sum(
                info.get("attempts") == 1 and info.get("answer") is not None for info in llm
            ),
            "random_fallbacks": sum(info.get("fallback") == "random" for info in llm),
        }
    return summary


def _test_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in metrics.items() if key.startswith("test_")}


def _describe(record: TrialRecord) -> str:
    if record.status == "ok":
        return f"round {record.round}: value={record.value:.6g} config={record.config}"
    return f"round {record.round}: {record.status}: {record.error}"
