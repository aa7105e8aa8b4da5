"""A worker's learning curve reaches the study through files, and the pruner's stop goes back.

A trial on a worker (another process, a SLURM job on another node) reports its steps by
appending them to `reports/<round>.jsonl` in the run folder, which every node of a cluster
sees; the study reads the new lines while it waits, asks its pruner about each point, and,
when the pruner stops the trial, creates `reports/<round>.stop`, which the worker finds at
its next report and stops there (a step later than a trial in the study's own process would).
The trial's whole curve also comes back with its result, so a point the study had not read
yet is never lost.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from llmhpo.progress import Reporter, point_problem

REPORTS_DIR = "reports"


class ReportFiles:
    """The curve file and the stop file of one trial of a study."""

    def __init__(self, folder: Path, round_index: int):
        reports = Path(folder) / REPORTS_DIR
        self.curve_path = reports / f"{round_index}.jsonl"
        self.stop_path = reports / f"{round_index}.stop"
        self._sent: list[list[float]] = []  # the worker's points so far
        self._read = 0  # the study's: bytes of the curve file forwarded to it

    def clear(self) -> None:
        """Start the trial afresh (a new submission): no points, no stop."""
        self.curve_path.parent.mkdir(parents=True, exist_ok=True)
        for path in (self.curve_path, self.stop_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self._read = 0

    def send(self, step: int, value: float) -> bool:
        """In the worker: append a point (checked as the study checks it); returns whether the
        study's pruner has stopped the trial."""
        problem = point_problem(self._sent, step, value)
        if problem is not None:
            raise ValueError(problem)
        with self.curve_path.open("a", encoding="utf-8") as file:
            file.write(json.dumps([step, value]) + "\n")
        self._sent.append([step, value])
        return self.stop_path.exists()

    def forward(self, report: Reporter) -> None:
        """In the study: hand each point not read yet to `report` (the study's, which asks the
        pruner), and write the stop file when it says stop. Reads only what was appended
        since the last call; a line still being written (no newline yet) waits for the next."""
        try:
            with self.curve_path.open("rb") as file:
                file.seek(self._read)
                appended = file.read()
        except FileNotFoundError:
            return
        complete = appended[: appended.rfind(b"\n") + 1]
        self._read += len(complete)
        for line in complete.splitlines():
            step, value = json.loads(line)
            if report(int(step), float(value)):
                self.stop_path.touch()
