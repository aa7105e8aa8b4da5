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


class TrialOrderError(LlmhpoError):
    """ask/tell out of order: a second ask before the first trial was told, or a tell for a
    trial this study is not waiting for."""


class Study:
    """One study in one folder: `budget` rounds of ask -> validate -> evaluate -> log -> tell.

    The trial log is its only state, so the same Study over the same folder resumes exactly
    where a killed one stopped. It knows nothing of what a trial computes (the objective) or
    how proposals are made (the tuner). `run` evaluates with the objective; a caller that
    evaluates by itself (the Python API) drives the same loop with `ask` and `tell`.
    """

    def __init__(
        self,
        folder: Path,
        space: SearchSpace,
        tuner: Tuner,
        objective: Objective | None,
        budget: int,
        name: str | None = None,
    ):
        """`objective`: what `run` evaluates, and its test split; None when the caller
        evaluates (then `name` names the study)."""
        if budget < 1:
            raise ConfigError(f"budget must be at least 1 trial, got {budget}")
        self.folder = Path(folder)
        self.space = space
        self.tuner = tuner
        self.objective = objective
        self.name = name or (objective.name if objective is not None else "custom")
        self.budget = budget
        self.trial_log = TrialLog(self.folder / TRIALS_FILE)
        self.records: list[TrialRecord] | None = None  # read from the log at the first ask
        self._pending: TrialRecord | None = None
        self._started = 0.0

    def run(self) -> dict[str, Any]:
        """Run (or resume, or just summarise) the study with its objective; returns the summary."""
        if self.objective is None:
            raise ConfigError("Study.run needs an objective; without one, use ask and tell")
        while (record := self.ask()) is not None:
            self._evaluate(record)
        return self.finish()

    def resume(self) -> list[TrialRecord]:
        """The finished trials, read from the log and replayed through the tuner (once)."""
        if self.records is not None:
            return self.records
        self.records = self.trial_log.read()
        for record in self.records:
            self.tuner.tell(record)
        done = len(self.records)
        if done >= self.budget:
            log.info(
                "Study in %s is already finished (%d of %d trials); not rerun",
                self.folder, done, self.budget,
            )  # fmt: skip
        elif done:
            log.info("Resuming %s: %d of %d trials done", self.folder, done, self.budget)
        else:
            log.info(
                "Study in %s, search space %s:\n%s",
                self.folder, self.space.name, self.space.describe(),
            )  # fmt: skip
        return self.records

    def ask(self) -> TrialRecord | None:
        """The next trial to evaluate (its `config` validated), or None when the budget is
        spent. Rounds whose proposal was invalid are logged and told here, not returned."""
        if self._pending is not None:
            raise TrialOrderError(
                f"trial {self._pending.round} was asked and not told yet: tell its result "
                "first (the tuners learn from each trial before proposing the next)"
            )
        records = self.resume()
        while len(records) < self.budget:
            record, fatal = self._propose(len(records))
            if record.config is not None:
                self._pending, self._started = record, time.perf_counter()
                return record
            self._complete(record)
            if fatal:
                raise TunerGaveUpError(
                    f"round {record.round}: {record.error}. The round is logged as invalid in "
                    f"{self.trial_log.path}; rerun to go on from the next round, or set "
                    "tuner.on_invalid=random (fall back to a random configuration) or a larger "
                    "tuner.max_attempts."
                )
        return None

    def tell(
        self,
        record: TrialRecord,
        value: float | None = None,
        metrics: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """The result of the trial `ask` returned: its value (what the tuner minimises), or
        `error` for a failed trial. Logged (fsynced) before the tuner hears of it."""
        if self._pending is None or record is not self._pending:
            waiting = f"trial {self._pending.round}" if self._pending else "no trial"
            raise TrialOrderError(
                f"tell for trial {getattr(record, 'round', record)!r}, but this study is "
                f"waiting for {waiting}: tell each trial that ask returned, once"
            )
        record.seconds = time.perf_counter() - self._started
        if error is None and (value is None or not math.isfinite(value)):
            error = f"the objective returned a non-finite value ({value})"
        if error is not None:
            record.status, record.error = "failed", error
        else:
            record.value, record.metrics = float(value), dict(metrics or {})
        self._pending = None
        self._complete(record)

    def finish(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write summary.json (testing the best configuration where the objective can), with
        the caller's `extra` keys."""
        records = self.resume()
        summary = summarise(records[: self.budget], self.budget, self.tuner.name, self.name)
        summary.update(extra or {})
        if summary["finished"] and summary["best_config"] is not None:
            summary["test"] = self._test_best(summary, records[summary["best_round"]])
        write_json_atomic(self.folder / SUMMARY_FILE, summary)
        return summary

    def _evaluate(self, record: TrialRecord) -> None:
        try:
            evaluation = self.objective.evaluate(record.config)
        except Exception as error:  # a failing trial is data, not a reason to stop the study
            log.exception("Trial %d failed", record.round)
            self.tell(record, error=f"{type(error).__name__}: {error}")
            return
        self.tell(record, evaluation.value, evaluation.metrics)

    def _complete(self, record: TrialRecord) -> None:
        self.trial_log.append(record)
        self.tuner.tell(record)
        self.records.append(record)
        log.info("%s", _describe(record))

    def _test_best(self, summary: dict[str, Any], best: TrialRecord) -> dict[str, Any] | None:
        """Test-split metrics of the best configuration, for objectives that have a test split.

        Taken from the trial when it measured them, from an earlier summary of
        the same study, or else by the objective's `test` (which may retrain).
        """
        if self.objective is None or self.objective.test is None:
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

    def _propose(self, round_index: int) -> tuple[TrialRecord, bool]:
        """The tuner's proposal as a record (invalid, or with a validated config), and whether
        the tuner asked to stop the study."""
        started = time.perf_counter()
        proposal = self.tuner.ask()
        record = TrialRecord(
            round=round_index,
            status="ok",
            config=None,
            proposed=proposal.config,
            ask_seconds=time.perf_counter() - started,
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
