"""What a study keeps on disk, and how it is found again.

- `folder`: the run folder: its files' names, the study's identity (fingerprint, labels, run
  name), study.json, the lock, and `study_folder` which opens one for every door;
- `trial_log`: the append-only trials.jsonl and its `TrialRecord`;
- `files`: atomic, fsynced JSON files;
- `naming`: a tuner's name in run folders, summaries and the aggregation;
- `finished`: reading a finished study (its best configuration, one of its rounds);
- `ledger`: what the study's ledger of rounds is to the tuners that read it.

Tuners and objectives import only the names below; the doors and the study loop use the
modules themselves.
"""

from llmhpo.store.finished import FromRunError, config_from_run
from llmhpo.store.ledger import Event, EventCursor, Ledger
from llmhpo.store.naming import HYBRID_DEFAULTS
from llmhpo.store.trial_log import (
    STATUSES,
    Status,
    TrialRecord,
    TrialRequest,
    TrialResult,
    TunerInfo,
)

__all__ = [
    "HYBRID_DEFAULTS",
    "Event",
    "EventCursor",
    "Ledger",
    "STATUSES",
    "FromRunError",
    "Status",
    "TrialRecord",
    "TrialRequest",
    "TrialResult",
    "TunerInfo",
    "config_from_run",
]
