"""Reading a finished study: its best configuration, or the one a round evaluated.

For `tuner=fixed`'s `from_run` (retrain a study's winner with other settings), and for anyone
reading another study's folder: never written, since the folder may belong to a running
study or be read-only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmhpo.errors import ConfigError, Key
from llmhpo.store.files import DamagedFileError, read_json
from llmhpo.store.folder import SUMMARY_FILE, TRIALS_FILE
from llmhpo.store.trial_log import TrialLog


class FromRunError(ConfigError):
    """`tuner.from_run` does not point at a usable finished study."""


def config_from_run(folder: Path, round_index: int | None) -> dict[str, Any]:
    """The best configuration of a finished study, or the one evaluated in `round_index`."""
    if round_index is not None:
        # Never written: the source may be a running study's folder, or read-only.
        records = TrialLog(folder / TRIALS_FILE).read_only()  # [] when there is no log
        by_round = {record.round: record for record in records}
        if round_index not in by_round:
            if not records:
                raise FromRunError(f"{folder / TRIALS_FILE} holds no trials")
            raise FromRunError(
                Key("tuner", "from_round", round_index),
                f": {folder / TRIALS_FILE} has rounds 0 to {max(by_round)}",
            )
        if by_round[round_index].config is None:
            raise FromRunError(
                f"round {round_index} of {folder} was invalid: nothing was evaluated"
            )
        return dict(by_round[round_index].config)
    summary_path = folder / SUMMARY_FILE
    if not summary_path.exists():
        raise FromRunError(
            Key("tuner", "from_run", str(folder)), f": no {SUMMARY_FILE} there; give the folder "
            "of a finished study (outputs/<run>/ or outputs/multirun/<run>/), or ",
            Key("tuner", "from_round", "N"), " for one of its rounds",
        )  # fmt: skip
    try:
        summary = read_json(summary_path)
    except DamagedFileError as error:
        raise FromRunError(
            f"{error}; run that study's command again to rewrite it (its trials are kept), or "
            "give ", Key("tuner", "from_round", "N"), " for one of its rounds",
        ) from error  # fmt: skip
    if not summary.get("best_config"):
        raise FromRunError(f"{summary_path} has no best configuration (no trial finished ok)")
    return dict(summary["best_config"])
