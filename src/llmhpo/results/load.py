"""Read run folders into one DataFrame row per trial, without touching the files.

A run folder is any folder with a `trials.jsonl`; what is wrong with one (no log,
a torn or unreadable line, no summary.json yet, no config) is named as a
problem with the folder, and whatever is readable is still used.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from llmhpo.store.files import DamagedFileError, read_json
from llmhpo.store.folder import STUDY_FILE, SUMMARY_FILE, TRIALS_FILE
from llmhpo.store.naming import pruner_suffix, tuner_label
from llmhpo.store.trial_log import TrialLog


@dataclass
class Loaded:
    trials: pd.DataFrame
    problems: list[str] = field(default_factory=list)


def find_runs(paths: list[str]) -> tuple[list[Path], list[str]]:
    """Run folders under the given paths or globs (a run, a multirun, outputs/...)."""
    runs: set[Path] = set()
    problems = []
    for pattern in paths:
        matches = [Path(p) for p in glob.glob(pattern)]
        if not matches:
            problems.append(f"{pattern}: no such file or folder")
        for match in matches:  # rglob looks in `match` itself too
            runs.update(p.parent for p in match.rglob(TRIALS_FILE))
            runs.update(p.parent for p in match.rglob(STUDY_FILE))
    return sorted(runs), problems


def results_parser(description: str | None) -> argparse.ArgumentParser:
    """The arguments every results command starts with: run folders in, a folder out."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("paths", nargs="+", help="run or multirun folders, or globs")
    parser.add_argument("--out", required=True, type=Path)
    return parser


def load_runs_into(paths: list[str], out: Path) -> Loaded | None:
    """The runs under `paths` for the files written to `out`, which is created: each problem
    printed and saved to out/problems.txt (they never stop a command); None, said on stderr,
    when there is no trial at all."""
    loaded = load_runs(paths)
    out.mkdir(parents=True, exist_ok=True)
    (out / "problems.txt").write_text("".join(f"{p}\n" for p in loaded.problems))
    for problem in loaded.problems:
        print(f"problem: {problem}", file=sys.stderr)
    if loaded.trials.empty:
        print("no trials found in " + " ".join(paths), file=sys.stderr)
        return None
    return loaded


def load_runs(paths: list[str]) -> Loaded:
    folders, problems = find_runs(paths)
    rows: list[dict[str, Any]] = []
    spaces: dict[str, dict[str, list[Path]]] = {}  # task -> its spaces -> the folders
    for folder in folders:
        run_rows, run_problems, config = _load_run(folder)
        rows += run_rows
        problems += run_problems
        if run_rows:
            space = json.dumps(config.get("search_space"), sort_keys=True, default=str)
            spaces.setdefault(run_rows[0]["task"], {}).setdefault(space, []).append(folder)
    for task, by_space in spaces.items():
        if len(by_space) > 1:
            groups = "; ".join(", ".join(map(str, group)) for group in by_space.values())
            problems.append(
                f"task {task!r}: its studies search {len(by_space)} different search spaces "
                f"({groups}), and are aggregated as one task; give each study of another "
                "function or space its own name"
            )
    return Loaded(pd.DataFrame(rows), problems)


def _load_run(folder: Path) -> tuple[list[dict[str, Any]], list[str], dict[str, Any]]:
    """The run's rows, what is wrong with it, and its recorded config."""
    problems = []
    config = _read_json(folder / STUDY_FILE, problems, folder).get("config")
    if config is None:
        problems.append(f"{folder}: no readable {STUDY_FILE} (the run's config); skipped")
        return [], problems, {}
    if not (folder / TRIALS_FILE).is_file():
        problems.append(f"{folder}: no {TRIALS_FILE}; the run never finished a trial")
        return [], problems, config
    records = _read_records(folder / TRIALS_FILE, problems, folder)
    budget = int(config.get("budget", 0))
    if not (folder / SUMMARY_FILE).is_file():
        problems.append(
            f"{folder}: no {SUMMARY_FILE} (unfinished: {len(records)} of {budget} trials); "
            "used as far as it got"
        )
    context = _run_context(folder, config)
    return [{**context, **_trial_columns(record)} for record in records], problems, config


def _read_json(path: Path, problems: list[str], folder: Path) -> dict[str, Any]:
    """The file's JSON object; a damaged one is a problem, and read as empty."""
    if not path.is_file():
        return {}
    try:
        data = read_json(path)
    except DamagedFileError as error:
        problems.append(f"{folder}: {error}")
        return {}
    return data if isinstance(data, dict) else {}


def _read_records(path: Path, problems: list[str], folder: Path) -> list[dict[str, Any]]:
    """Readable records as dicts; unreadable lines are problems, and the file is left alone."""
    scan = TrialLog(path).scan()
    for number, _ in scan.bad_lines:
        problems.append(f"{folder}: {TRIALS_FILE} has an unreadable line {number}; skipped")
    if scan.torn_last_line is not None:
        problems.append(f"{folder}: {TRIALS_FILE} has a torn last line; skipped")
    return [asdict(record) for _, record in scan.records]


def _run_context(folder: Path, config: dict[str, Any]) -> dict[str, Any]:
    objective = config.get("objective", {})
    tuner = config.get("tuner", {})
    llm = config.get("llm", {}) if "llm" in tuner else {}
    prompt = config.get("prompt", {}) if "prompt" in tuner else {}
    target = str(tuner.get("_target_", ""))
    return {
        "run": folder.name,
        "path": str(folder),
        "task": objective.get("name", "?"),
        "objective": str(objective.get("_target_", "")).rsplit(".", 1)[-1],
        "function": objective.get("function"),
        "tuner": tuner_label(tuner) + pruner_suffix(config.get("pruner"))
        if "name" in tuner
        else "?",
        "tuner_kind": target.rsplit(".", 1)[-1].replace("Tuner", "").lower() or "?",
        "sampler": tuner.get("sampler"),
        "llm_model": llm.get("model"),
        "prompt_format": prompt.get("format"),
        "cot": prompt.get("cot"),
        "seed": config.get("seed"),
        "budget": config.get("budget"),
    }


def _trial_columns(record: dict[str, Any]) -> dict[str, Any]:
    metrics = record.get("metrics") or {}
    tuner = record.get("tuner") or {}
    return {
        "round": record.get("round"),
        "status": record.get("status"),
        "value": record.get("value"),
        "regret": metrics.get("regret"),
        "val_error": metrics.get("val_error"),
        "val_loss": metrics.get("val_loss"),
        "test_error": metrics.get("test_error"),
        "score": metrics.get("score"),  # Bayesmark's cross-validated score, as LLAMBO's
        "test_score": metrics.get("test_score"),  # and its test split's
        "x1": (record.get("config") or {}).get("x1"),
        "x2": (record.get("config") or {}).get("x2"),
        "config": json.dumps(record.get("config")),
        "seconds": record.get("seconds"),
        "steps": len(record.get("curve") or []) or None,  # steps reported: epochs trained
        "ask_seconds": record.get("ask_seconds"),
        "prompt_tokens": tuner.get("prompt_tokens"),
        "completion_tokens": tuner.get("completion_tokens"),
        "cost_usd": tuner.get("cost_usd"),
        "fallback": tuner.get("fallback"),
    }
