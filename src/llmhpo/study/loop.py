"""The tuning loop: ask, evaluate, log, tell, until the budget is spent.

The trial log is written before the tuner hears the result, so the log is
always at least as far along as any tuner state. Resuming replays the log
through `tell` and continues at the first missing round.

An asynchronous study (`asynchronous=True`: trials run beside each other on workers, and a
freed worker gets the next trial at once) asks while other trials run, logs each trial as it
is told, and keeps the trials out for evaluation in running.json; a resumed one replays the
asks and tells in the order they happened and hands the trials that were running out again.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from pathlib import Path
from typing import Any

from llmhpo.errors import ConfigError, Key, LlmhpoError
from llmhpo.objectives.base import METRIC_KEY, Objective
from llmhpo.progress import as_step, as_value, point_problem
from llmhpo.pruning import Pruner
from llmhpo.space import InvalidConfigError, SearchSpace
from llmhpo.store.files import DamagedFileError, read_json, write_json_atomic
from llmhpo.store.folder import RUNNING_FILE, SUMMARY_FILE, TRIALS_FILE, ended_at
from llmhpo.store.running import Running, RunningFile
from llmhpo.store.trial_log import (
    Status,
    TrialLog,
    TrialLogError,
    TrialRecord,
    TrialRequest,
    TrialResult,
)
from llmhpo.study.evaluate import ObjectiveCall, Outcome, run_trial
from llmhpo.study.executor import Executor
from llmhpo.study.rounds import Rounds
from llmhpo.study.summary import summarise
from llmhpo.study.workers import run_on_workers
from llmhpo.tuners.base import Tuner

log = logging.getLogger(__name__)


class TunerGaveUpError(LlmhpoError):
    """The tuner could not propose a configuration and was told to stop (tuner.on_invalid=fail)."""


class TrialOrderError(LlmhpoError):
    """ask, report and tell out of order: a second ask before the first trial was told, a tell
    or report for a trial this study is not waiting for, a step reported twice or a curve
    point that is not a number."""


class StudyLoop:
    """One study in one folder: `budget` rounds of ask -> validate -> evaluate -> log -> tell.

    The trial log is its only state, so the same loop over the same folder resumes exactly
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
        batch_size: int = 1,
        pruner: Pruner | None = None,
        executor: Executor | None = None,
    ):
        """`objective`: what `run` evaluates, and its test split; None when the caller
        evaluates (then `name` names the study). `batch_size`: how many configurations
        `ask_batch` hands out at once, for parallel workers (resume replays the same batches,
        so a study keeps one batch size). `pruner`: stops trials whose reported curve is
        hopeless (None: every trial runs to its end). `executor`: where `run` evaluates the
        trials (inline: here, one after another); an asynchronous one's workers never wait
        for each other: `ask` may be called while trials run, and each is proposed knowing
        every result told so far and the trials still running."""
        executor = executor or Executor()
        if budget < 1:
            raise ConfigError(f"budget must be at least 1 trial, got {budget}")
        if batch_size < 1:
            raise ConfigError(f"the batch size must be at least 1, got {batch_size}")
        if executor.asynchronous and batch_size != 1:
            raise ConfigError("an asynchronous study hands out one trial at a time (batch size 1)")
        self.folder = Path(folder)
        self.space = space
        self.tuner = tuner
        self.objective = objective
        self.name = name or (objective.name if objective is not None else "custom")
        self.budget = budget
        self.batch_size = batch_size
        self.pruner = pruner
        self.executor = executor
        self.trial_log = TrialLog(self.folder / TRIALS_FILE)
        self.running = RunningFile(self.folder / RUNNING_FILE)
        self.rounds = Rounds(batch_size, budget, ended_at(self.folder), in_order=batch_size > 1)
        tuner.attach(self.rounds)  # the tuner (and the pruner) read the study's one ledger
        if pruner is not None:
            pruner.attach(self.rounds)
        self._resumed = False  # the log is read (and replayed) at the first ask
        self._started: dict[int, float] = {}  # round -> when it was handed out
        self._curves: dict[int, list[list[float]]] = {}  # round -> its curve, while it runs
        self._gave_up: TrialRecord | None = None  # an invalid round that stops the study
        self._rerun: dict[int, Running] = {}  # trials running when the study was stopped

    @property
    def asynchronous(self) -> bool:
        """Whether `ask` may be called while trials run (the executor's workers never wait)."""
        return self.executor.asynchronous

    def run(self) -> dict[str, Any]:
        """Run (or resume, or just summarise) the study with its objective; returns the summary."""
        if self.objective is None:
            raise ConfigError("StudyLoop.run needs an objective; without one, use ask and tell")
        try:
            if self.executor.name == "inline":
                while (request := self.ask()) is not None:
                    self._evaluate(request)
            else:
                run_on_workers(self, ObjectiveCall(self.objective), self.executor)
        finally:
            self.trial_log.close()  # a study stopped by an error fsyncs what it logged, too
        return self.finish()

    def resume(self) -> list[TrialRecord]:
        """The settled trials, read from the log and replayed through the tuner (once) in the
        order a live study held and told them."""
        if self._resumed:
            return self.rounds.settled
        self._resumed = True
        logged = self.trial_log.read()
        if self.batch_size > 1:
            self._replay_batches(logged)
        else:
            self._replay(logged)
        done = len(logged)
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
        return self.rounds.settled

    def _replay_batches(self, logged: list[TrialRecord]) -> None:
        """Hold the logged rounds as they were held live, batch by batch."""
        if any(record.asked_after is not None for record in logged):
            raise ConfigError(
                f"{self.trial_log.path} was written by an asynchronous study (trials told as "
                "they ended), which cannot be resumed in batches; resume it with one trial "
                "at a time or asynchronously"
            )
        for record in logged:
            self._hold(record, replayed=True)

    def _replay(self, logged: list[TrialRecord]) -> None:
        """Hold each round where it was asked (after `asked_after` trials were told; a line
        without one after every line before it) and settle the logged ones in the order they
        were told, as they were live. The trials running when the study stopped
        (running.json) are held again, for `take_running` or `ask` to hand out."""
        held: dict[int, TrialRecord | TrialRequest] = {}
        asked_after: dict[int, int] = {}
        for position, record in enumerate(logged):
            held[record.round] = record
            asked_after[record.round] = (
                position if record.asked_after is None else record.asked_after
            )
        for round_index, running in self.running.read().items():
            if round_index not in held:  # a trial told just before the stop is in the log
                held[round_index] = running.request
                asked_after[round_index] = running.request.asked_after or len(logged)
                self._rerun[round_index] = running
        order = sorted(held)
        if order != list(range(len(order))):
            missing = sorted(set(range(len(order))) - set(order))
            raise TrialLogError(
                f"{self.trial_log.path}: rounds {missing} are neither in the log nor in "
                f"{self.running.path}; was a file edited or removed?"
            )
        next_held = 0
        for told in range(len(logged) + 1):
            while next_held < len(order) and asked_after[order[next_held]] <= told:
                round_held = held[order[next_held]]
                replayed = isinstance(round_held, TrialRecord)
                self.rounds.hold(round_held, replayed, known=False)
                if not replayed:  # running when the study stopped: out for evaluation again
                    self._curves[round_held.round] = []
                    self._started[round_held.round] = time.perf_counter()
                next_held += 1
            if told < len(logged):
                self.rounds.know(logged[told])
                self._settle()

    def take_running(self) -> list[Running]:
        """The trials that were out for evaluation when the study was stopped, each with its
        job: for an executor that collects those still running and runs the others again.
        Where nothing takes them, `ask` hands them out again before proposing new ones."""
        self.resume()
        taken = [self._rerun[round_index] for round_index in sorted(self._rerun)]
        self._rerun.clear()
        return taken

    def submitted(self, request: TrialRequest, job: str | None, submissions: int) -> None:
        """Record the job that runs `request` (its `submissions`-th), so that a restarted
        study finds it."""
        self.running.put(Running(request, job, submissions))

    def ask(self) -> TrialRequest | None:
        """The next trial to evaluate (its `config` validated), or None when the budget is
        spent; for a study of batch size 1. Rounds whose proposal was invalid are logged and
        told here, not returned. An asynchronous study may be asked while trials run."""
        if self.batch_size != 1:
            raise TrialOrderError(
                f"this study hands out batches of {self.batch_size}: use ask_batch, which returns "
                "them together"
            )
        self.resume()
        if self._rerun:  # a trial that was running when the study stopped runs again
            return self._rerun.pop(min(self._rerun)).request
        asked = self.ask_batch()
        return asked[0] if asked else None

    def ask_batch(self) -> list[TrialRequest]:
        """The next batch: up to `batch_size` trials to evaluate at once (fewer where the
        budget ends, or a resumed batch was partly done); empty when the budget is spent.
        Each round of a batch is proposed knowing every result before the batch."""
        self.resume()
        waiting = [] if self.asynchronous else self.rounds.waiting()
        if waiting:
            raise TrialOrderError(
                f"trial {waiting[0].round} was asked and not told yet: tell its result "
                "first (the tuners learn from each trial before proposing the next)"
            )
        if self._gave_up is not None:
            raise self._gave_up_error(self._gave_up)
        asked: list[TrialRequest] = []
        while self.rounds.next < self.budget:
            held, fatal = self._propose(self.rounds.next)
            batch_closed = self._hold(held, replayed=False)
            if isinstance(held, TrialRequest):
                self._started[held.round] = time.perf_counter()
                self._curves[held.round] = []
                if self.asynchronous:
                    self.running.put(Running(held))
                asked.append(held)
            elif fatal:  # raised once the rounds before it are settled
                self._gave_up = held
                break
            if batch_closed:
                break
        if self._gave_up is not None and not asked:
            self._settle()
            raise self._gave_up_error(self._gave_up)
        return asked

    def report(self, request: TrialRequest, step: Any, value: Any) -> bool:
        """A point of the curve of a trial out for evaluation: its value after `step` steps
        (whole numbers >= 0, increasing); returns whether the pruner stops the trial there
        (then tell it with `pruned=True`). Checked before it is kept in the trial's curve,
        so the log never holds a point that a resumed study would refuse."""
        if not isinstance(request, TrialRequest) or not self.rounds.holds(request):
            raise TrialOrderError(
                f"report for trial {getattr(request, 'round', request)!r}, which is not out "
                "for evaluation: report the steps of a trial that ask returned, before its tell"
            )
        step, value = as_step(step), as_value(value)
        curve = self._curves[request.round]
        problem = point_problem(curve, step, value)
        if problem is not None:
            raise TrialOrderError(f"trial {request.round}: {problem}")
        curve.append([step, value])
        return self.pruner is not None and self.pruner.report(request, step, value)

    def curve(self, request: TrialRequest) -> list[list[float]]:
        """The steps a trial out for evaluation has reported so far ([step, value] pairs)."""
        return list(self._curves.get(request.round, []))

    def tell(
        self,
        request: TrialRequest,
        value: float | None = None,
        metrics: dict[str, Any] | None = None,
        error: str | None = None,
        pruned: bool = False,
    ) -> None:
        """The result of a trial `ask` returned: its value (what the tuner minimises), or
        `error` for a failed trial, `pruned` for one stopped after its last reported step
        (its value is that step's). Logged (written; fsynced within the log's group-commit
        interval) before the tuner hears of it, in round
        order: a trial told before an earlier one of its batch waits for it."""
        if not isinstance(request, TrialRequest) or not self.rounds.holds(request):
            waiting = [str(r.round) for r in self.rounds.waiting()]
            named = "trials " if len(waiting) > 1 else "trial "
            named = named + ", ".join(waiting) if waiting else "no trial"
            raise TrialOrderError(
                f"tell for trial {getattr(request, 'round', request)!r}, but this study is "
                f"waiting for {named}: tell each trial that ask returned, once"
            )
        curve = self._curves[request.round]
        if pruned and error is None and not curve:  # checked before anything changes
            raise TrialOrderError(
                f"trial {request.round} told as pruned without a reported step: report its "
                "steps first (a trial stopped before any step is a failed one)"
            )
        seconds = time.perf_counter() - self._started.pop(request.round)
        del self._curves[request.round]
        if error is None and not pruned and (value is None or not math.isfinite(value)):
            error = f"the objective returned a non-finite value ({value})"
        if error is not None:
            result = TrialResult(Status.FAILED, error=error, seconds=seconds, curve=curve)
        elif pruned:
            step, last = curve[-1]
            result = TrialResult(
                Status.PRUNED, float(last), dict(metrics or {}), f"pruned at step {int(step)}",
                seconds, curve,
            )  # fmt: skip
        else:
            result = TrialResult(Status.OK, float(value), dict(metrics or {}), None, seconds, curve)
        self.rounds.know(TrialRecord.of(request, result))
        self._settle()

    def finish(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write summary.json (testing the best configuration where the objective can), with
        the caller's `extra` keys."""
        records = self.resume()
        self.trial_log.close()  # every told trial fsynced before the summary says it exists
        summary = summarise(records[: self.budget], self.budget, self.tuner, self.name)
        summary.update(extra or {})
        if summary["finished"] and summary["best_config"] is not None:
            best = next(r for r in records if r.round == summary["best_round"])
            summary["test"] = self._test_best(summary, best)
        write_json_atomic(self.folder / SUMMARY_FILE, summary)
        return summary

    def _evaluate(self, request: TrialRequest) -> None:
        call = ObjectiveCall(self.objective)
        reporter = functools.partial(self.report, request)
        self.tell_outcome(request, run_trial(call, request.config, reporter, request.round))

    def tell_outcome(self, request: TrialRequest, outcome: Outcome) -> None:
        """Tell what came of a trial evaluated by `run_trial`, here or in a worker; the points
        of its curve this study has not heard yet are added first (a worker's last reports
        may arrive with its result)."""
        curve = self._curves[request.round]
        curve.extend(outcome.curve[len(curve) :])
        if outcome.error is not None:
            self.tell(request, error=outcome.error)
        elif outcome.pruned:
            self.tell(request, pruned=True, metrics=outcome.metrics)
        else:
            self.tell(request, outcome.value, outcome.metrics)

    def _hold(self, held: TrialRequest | TrialRecord, replayed: bool) -> bool:
        """Put a round in the ledger as out for evaluation (a request, or a logged round
        replayed, or an invalid one); returns whether it closed the open batch. The held
        rounds settle when the batch closes (replayed ones too, so the tuner reads them as it
        did live), and an invalid round that is the only one held settles at once (its tuner
        reads it before proposing again)."""
        closed = self.rounds.hold(held, replayed)
        if closed or (held.config is None and self.rounds.alone(held)):
            self._settle()
        return closed

    def _settle(self) -> None:
        """Log (unless replayed) every round whose turn has come: it is settled."""
        for record, replayed in self.rounds.settle():
            if not replayed:
                self.trial_log.append(record)
                log.info("%s", _describe(record))
                if record.round in self.running:
                    self.trial_log.sync()  # on disk before it leaves running.json
                    self.running.remove(record.round)

    def _gave_up_error(self, record: TrialRecord) -> TunerGaveUpError:
        self._gave_up = None
        return TunerGaveUpError(
            f"round {record.round}: {record.error}. The round is logged as invalid in "
            f"{self.trial_log.path}; rerun to go on from the next round, or set ",
            Key("tuner", "on_invalid", "random"),
            " (fall back to a random configuration) or a larger ",
            Key("tuner", "max_attempts"),
            ".",
        )

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

    def _propose(self, round_index: int) -> tuple[TrialRequest | TrialRecord, bool]:
        """The tuner's proposal as a request to evaluate (its config validated), or, when it
        did not fit the space, as the record of an invalid round; and whether the tuner asked
        to stop the study."""
        started = time.perf_counter()
        proposal = self.tuner.ask()
        asked = {"round": round_index, "proposed": proposal.config, "tuner": proposal.info,
                 "ask_seconds": time.perf_counter() - started}  # fmt: skip
        if self.asynchronous:
            asked["asked_after"] = len(self.rounds.settled)
        if proposal.config is None:
            why = proposal.error or "the tuner proposed nothing"
            return TrialRecord(
                status=Status.INVALID, config=None, error=why, **asked
            ), proposal.fatal
        try:
            config = self.space.validate(proposal.config)
        except InvalidConfigError as error:
            return TrialRecord(status=Status.INVALID, config=None, error=str(error), **asked), False
        return TrialRequest(config=config, **asked), False


def _test_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in metrics.items() if key.startswith("test_")}


def _describe(record: TrialRecord) -> str:
    if record.status == "ok":
        reported = record.metrics.get(METRIC_KEY)  # a caller's metric, where it was negated
        shown = f" ({reported:.6g} as reported)" if reported not in (None, record.value) else ""
        return f"round {record.round}: value={record.value:.6g}{shown} config={record.config}"
    return f"round {record.round}: {record.status}: {record.error}"
