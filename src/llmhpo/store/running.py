"""The trials a study has handed out and not yet been told (`running.json`), with their jobs.

An asynchronous study (trials running beside each other, on workers) writes each request here
when it is asked, with the job that runs it once submitted, and takes it away once its line
is in the trial log. A coordinator killed while trials run leaves them here: on restart they
are held again where they were asked, the jobs still alive are collected and the others run
again, so no told trial is lost and none is run twice. The file is rewritten atomically on
each change (a handful of trials at most), so it is always one consistent state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from llmhpo.store.files import DamagedFileError, read_json, write_json_atomic
from llmhpo.store.trial_log import TrialRequest


@dataclass(frozen=True)
class Running:
    """A request out for evaluation, the job that runs it (None until submitted, or where the
    study evaluates in its own process) and how many times it has been submitted."""

    request: TrialRequest
    job: str | None = None
    submissions: int = 0


class RunningFile:
    """A study's `running.json`: round -> the request, its job and its submissions."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._running: dict[int, Running] | None = None  # read at the first use

    def read(self) -> dict[int, Running]:
        """The trials out for evaluation when the file was last written, by round (the file's
        own mapping, read once: not to be changed by the caller)."""
        if self._running is not None:
            return self._running
        self._running = {}
        if self.path.exists():
            try:
                data = read_json(self.path)
            except DamagedFileError as error:
                raise DamagedFileError(
                    f"{error}. It lists the trials that were running; move it away to run "
                    "them again from the start"
                ) from None
            for entry in data.get("running", []):
                request = TrialRequest(**entry["request"])
                self._running[request.round] = Running(
                    request, entry.get("job"), entry.get("submissions", 0)
                )
        return self._running

    def __contains__(self, round_index: int) -> bool:
        return round_index in self.read()

    def put(self, running: Running) -> None:
        """Record (or update) a running trial."""
        self.read()[running.request.round] = running
        self._write()

    def remove(self, round_index: int) -> None:
        """A trial whose line is in the trial log: no longer running."""
        if self.read().pop(round_index, None) is not None:
            self._write()

    def _write(self) -> None:
        assert self._running is not None
        if not self._running and not self.path.exists():
            return
        entries = [asdict(r) for r in sorted(self._running.values(), key=lambda r: r.request.round)]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, {"running": entries})
