"""Many workers, one study: trials run in worker processes (executor=local) or SLURM jobs
(executor=slurm) through submitit's executors, while the study (its tuner, log and LLM)
stays in this process.

`mode: async` keeps every worker busy: when a trial ends, it is told and the tuner is asked at
once for the next, knowing the trials still running. `mode: batch` hands out `workers` trials
at a time and waits for all of them, as Hydra's launchers do. The trials out for evaluation
are kept with their job ids (running.json), so a study whose process was killed collects, on
restart, the jobs still alive and runs the others again. A worker that dies without a result
(scancel, out of memory, a lost node) fails its trial with the reason, after `retries` more
submissions; one stopped for running past `timeout_min` fails its trial at once.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmhpo.errors import LlmhpoError
from llmhpo.store.running import Running
from llmhpo.store.trial_log import TrialRequest
from llmhpo.study.evaluate import Call, Outcome, run_trial
from llmhpo.study.executor import SLURM_KEYS, Executor
from llmhpo.study.report_files import ReportFiles

if TYPE_CHECKING:  # the loop calls run_on_workers; this module only calls the loop's methods
    from llmhpo.study.loop import StudyLoop

log = logging.getLogger(__name__)

JOBS_DIR = "jobs"  # submitit's files (pickles, logs) in the run folder
# SLURM job states in which a job may still produce its result
ALIVE_STATES = ("PENDING", "RUNNING", "REQUEUED", "COMPLETING", "CONFIGURING", "SUSPENDED")
SLURM_CHECK_SECONDS = 5.0  # how often sacct is asked for the jobs' states (a scancel, a lost node)
# How long an ended job's result may take to show up: a cluster's shared filesystem may show it
# late (submitit waits as long), a local worker writes it before its process ends.
RESULT_GRACE_SECONDS = {"local": 0.0, "slurm": 15.0}
# The thread pools a trial's libraries size from the environment (OpenMP: scikit-learn's
# gradient boosting, torch; BLAS). Each would take every core, and `workers` of them spinning
# on the same cores made a study of 1-second trials on 2 local workers 5 times slower.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


class WorkerLostError(LlmhpoError):
    """A trial's worker ended without a result (cancelled, out of memory, past its time)."""


def work(call: Call, config: dict[str, Any], folder: Path, round_index: int) -> Outcome:
    """What a worker runs: the trial, its reports sent through the run folder."""
    return run_trial(call, config, ReportFiles(folder, round_index).send, round_index)


@dataclass
class Submission:
    """A trial out on a worker: its request, its job, how many times it was submitted, its
    report files, and when this process submitted it (or found it again after a restart)."""

    request: TrialRequest
    job: Any
    submissions: int
    reports: ReportFiles
    since: float = field(default_factory=time.monotonic)


class Pool:
    """submitit's executor for the study: submits trials, finds their jobs again after a
    restart, and says when each has ended."""

    def __init__(self, executor: Executor, folder: Path):
        import submitit

        self.executor = executor
        self.folder = folder
        self.jobs = folder / JOBS_DIR
        self._submitit = submitit.AutoExecutor(folder=self.jobs, cluster=executor.name)
        parameters: dict[str, Any] = {"name": f"llmhpo-{folder.name}"[:64]}
        if executor.name == "local":  # submitit's local executor takes a fraction of a minute
            parameters["local_timeout_min"] = executor.timeout_min
        else:  # sbatch --time counts whole minutes
            parameters["timeout_min"] = math.ceil(executor.timeout_min)
        for key, value in executor.slurm.items():
            if value not in (None, {}, ""):
                parameters[SLURM_KEYS[key]] = value
        self._submitit.update_parameters(**parameters)
        self._orphans: set[str] = set()  # local jobs of a killed study: no process handle here
        self._checked_at = 0.0
        self._ended_at: dict[str, float] = {}  # jobs seen ended without a result yet

    def submit(self, call: Call, request: TrialRequest, reports: ReportFiles) -> Any:
        reports.clear()
        with self._threads_per_worker():
            return self._submitit.submit(work, call, request.config, self.folder, request.round)

    @contextlib.contextmanager
    def _threads_per_worker(self) -> Iterator[None]:
        """Local workers share this machine's cores: each job starts with an equal share of
        them as its thread count (submitit's local job copies this process's environment
        when it starts), except where the user set the variable. A SLURM job's cores are
        the cluster's to give (cpus_per_task)."""
        if self.executor.name != "local":
            yield
            return
        share = str(max(1, (os.cpu_count() or 1) // self.executor.workers))
        unset = [name for name in THREAD_VARIABLES if name not in os.environ]
        os.environ.update(dict.fromkeys(unset, share))
        try:
            yield
        finally:
            for name in unset:
                os.environ.pop(name, None)

    def find(self, job_id: str) -> Any | None:
        """The job of a trial that was running when the study stopped, if it may still give its
        result (alive, or ended with one); None where it must run again."""
        import submitit

        if self.executor.name == "local":
            job = submitit.local.local.LocalJob(self.jobs, job_id)
            if job.paths.result_pickle.exists():
                return job
            if _submitit_process_alive(job_id):
                self._orphans.add(job_id)
                return job
            return None
        job = submitit.SlurmJob(self.jobs, job_id)
        if job.paths.result_pickle.exists():
            return job
        state = job.watcher.get_state(job_id, mode="force").split(" ")[0].upper()
        return job if state in ALIVE_STATES or state == "UNKNOWN" and _queued(job_id) else None

    def refresh(self) -> None:
        """Ask the cluster for the jobs' states now and then (not at every poll): submitit
        would otherwise ask less and less often as a trial runs, and a cancelled job would
        go unnoticed for minutes."""
        if self.executor.name != "slurm":
            return
        if time.monotonic() - self._checked_at >= SLURM_CHECK_SECONDS:
            import submitit

            submitit.SlurmJob.watcher.update()
            self._checked_at = time.monotonic()

    def ended(self, job: Any) -> bool:
        """Whether the job is over with its result here, or over without one for longer than
        the result's grace (a lost worker). The grace is waited out here, a poll at a time,
        so that the other trials are told meanwhile."""
        if job.job_id in self._orphans:  # started by a killed study: its process is not ours
            over = not _submitit_process_alive(job.job_id)
        else:
            over = bool(job.done())
        if not over:
            return False
        if job.paths.result_pickle.exists():
            return True
        first_seen = self._ended_at.setdefault(job.job_id, time.monotonic())
        return time.monotonic() - first_seen >= RESULT_GRACE_SECONDS[self.executor.name]

    def outcome(self, job: Any, since: float) -> Outcome:
        """What the ended job's trial came to: its result; a failed trial where it ran past
        `timeout_min` (not run again: it would hang again); WorkerLostError for another loss."""
        if job.paths.result_pickle.exists():
            return job.result()
        if self._timed_out(job, since):
            return Outcome(
                error=f"TimeoutError: the trial ran past executor.timeout_min="
                f"{self.executor.timeout_min:g} minutes and its worker (job {job.job_id}) was "
                "stopped; raise executor.timeout_min if trials need longer"
            )  # fmt: skip
        raise WorkerLostError(
            f"its worker (job {job.job_id}, state {getattr(job, 'state', 'unknown')}) ended "
            f"without a result{_why(job)}; its logs are in {self.jobs}"
        )

    def _timed_out(self, job: Any, since: float) -> bool:
        if self.executor.name == "slurm":
            return str(getattr(job, "state", "")).upper().startswith("TIMEOUT")
        # submitit's local executor stops a job int(60 * timeout_min) seconds after its start
        return time.monotonic() - since >= int(60 * self.executor.timeout_min)


def run_on_workers(loop: StudyLoop, call: Call, executor: Executor) -> None:
    """Run the study's trials on `executor`'s workers until its budget is spent (the summary
    is the caller's, `loop.finish`)."""
    pool = Pool(executor, loop.folder)
    running: dict[int, Submission] = {}
    for taken in loop.take_running():
        running[taken.request.round] = _collect_or_resubmit(loop, pool, call, taken)
    try:
        while True:
            _hand_out(loop, pool, call, executor, running)
            if not running:
                return
            time.sleep(executor.poll_seconds)
            pool.refresh()
            for round_index, submission in sorted(running.items()):
                submission.reports.forward(functools.partial(loop.report, submission.request))
                if pool.ended(submission.job):
                    del running[round_index]
                    _tell(loop, pool, call, executor, submission, running)
    finally:
        if running:
            jobs = ", ".join(str(s.job.job_id) for s in running.values())
            log.warning(
                "The study stopped with %d trial(s) running (jobs %s): the same command "
                "collects them if they are still running, or runs them again",
                len(running), jobs,
            )  # fmt: skip


def _hand_out(
    loop: StudyLoop, pool: Pool, call: Call, executor: Executor, running: dict[int, Submission]
) -> None:
    """Fill the free workers: one trial per free worker (async), or a whole batch once every
    trial of the last one is told (batch)."""
    if executor.asynchronous:
        while len(running) < executor.workers and (request := loop.ask()) is not None:
            running[request.round] = _submit(loop, pool, call, request, 1)
    elif not running:
        for request in loop.ask_batch():
            running[request.round] = _submit(loop, pool, call, request, 1)


def _submit(
    loop: StudyLoop, pool: Pool, call: Call, request: TrialRequest, submissions: int
) -> Submission:
    reports = ReportFiles(loop.folder, request.round)
    job = pool.submit(call, request, reports)
    if loop.asynchronous:
        loop.submitted(request, str(job.job_id), submissions)
    log.info("round %d: submitted as job %s", request.round, job.job_id)
    return Submission(request, job, submissions, reports)


def _collect_or_resubmit(loop: StudyLoop, pool: Pool, call: Call, taken: Running) -> Submission:
    """A trial that was running when the study stopped: its job again if it is alive (or has
    its result), else a new submission (not one of its retries: the worker did not fail)."""
    job = None if taken.job is None else pool.find(taken.job)
    if job is None:
        log.info("round %d: its job %s is gone; running it again", taken.request.round, taken.job)
        return _submit(loop, pool, call, taken.request, max(taken.submissions, 1))
    log.info("round %d: collecting its job %s", taken.request.round, taken.job)
    return Submission(
        taken.request, job, taken.submissions, ReportFiles(loop.folder, taken.request.round)
    )


def _tell(
    loop: StudyLoop,
    pool: Pool,
    call: Call,
    executor: Executor,
    submission: Submission,
    running: dict[int, Submission],
) -> None:
    """Tell a trial whose job ended: its outcome; or, for a lost worker, a new submission
    while retries are left, else a failed trial that says why."""
    request = submission.request
    submission.reports.forward(functools.partial(loop.report, request))
    try:
        outcome = pool.outcome(submission.job, submission.since)
    except WorkerLostError as error:
        if submission.submissions <= executor.retries:
            log.warning("round %d: %s; submitting it again", request.round, error)
            running[request.round] = _submit(loop, pool, call, request, submission.submissions + 1)
            return
        outcome = Outcome(error=f"WorkerLostError: {error}")
    except Exception as error:  # the worker raised outside the trial: a mistake, as inline
        raise LlmhpoError(
            f"round {request.round}: its worker (job {submission.job.job_id}) raised "
            f"{_last_line(str(error))}; the study stops (trials told so far are kept)"
        ) from error
    loop.tell_outcome(request, outcome)


def _why(job: Any) -> str:
    """The last line of a lost job's error log that is not submitit's own, where there is
    one (a worker that could not import the objective's module says so there)."""
    try:
        text = job.stderr() or ""
    except OSError:
        return ""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith(" ")]
    lines = [line for line in lines if not line.startswith(("submitit ", "Traceback"))]
    return f" ({lines[-1].strip()})" if lines else ""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else text


def _submitit_process_alive(job_id: str) -> bool:
    """Whether a local job's process (its pid is the job id) still runs submitit's job."""
    try:
        command = Path(f"/proc/{int(job_id)}/cmdline").read_bytes()
    except (OSError, ValueError):
        return False
    return b"submitit" in command


def _queued(job_id: str) -> bool:
    """Whether squeue still lists the job (sacct may not know a job submitted a moment ago)."""
    import subprocess

    try:
        listed = subprocess.run(
            ["squeue", "-h", "-j", str(job_id), "-o", "%i"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return str(job_id) in listed.stdout.split()
