"""The examples run as a user runs them: offline, with the embedded model."""

import re
import subprocess
import sys

import pytest

from tests.helpers.config import REPO
from tests.helpers.runs import trial_lines


@pytest.mark.slow
def test_the_api_example_tunes_and_resumes(tmp_path):
    script = REPO / "examples" / "tune_sklearn_api.py"
    folder = tmp_path / "svm"
    run = [sys.executable, str(script), str(folder)]
    first = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "best validation accuracy 0." in first.stdout
    lines = trial_lines(folder)
    assert len(lines) == 8 and all(line["status"] == "ok" for line in lines)
    again = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and again.stdout.splitlines()[0] == first.stdout.splitlines()[0]
    assert trial_lines(folder) == lines


@pytest.mark.slow
def test_the_optuna_example_marks_where_each_trial_came_from(tmp_path):
    script = REPO / "examples" / "tune_sklearn_optuna.py"
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split(" ", 2) for line in result.stdout.splitlines()[:8]]
    assert [int(r[0]) for r in rows] == list(range(8))
    assert rows[0][1] == "independent" and {r[1] for r in rows[1:]} <= {"llm", "fallback"}


@pytest.mark.slow
def test_the_hydra_app_example_is_tuned_by_the_sweeper_and_resumes(tmp_path):
    script = REPO / "examples" / "hydra_app" / "train.py"
    folder = tmp_path / "sweep"
    run = [sys.executable, str(script), "-m", f"hydra.sweep.dir={folder}", "hydra.sweeper.budget=3"]
    first = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    lines = trial_lines(folder)
    assert len(lines) == 3 and all(line["status"] == "ok" for line in lines)
    assert all(line["tuner"]["model"] == "SmolLM2-135M-Instruct" for line in lines)
    results = (folder / "optimization_results.yaml").read_text()
    best = max(line["metrics"]["metric"] for line in lines)
    assert f"best_value: {best}" in results
    again = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert (
        again.returncode == 0 and "already finished (3 of 3 trials)" in again.stdout + again.stderr
    )
    assert trial_lines(folder) == lines


@pytest.mark.slow
def test_the_own_tuner_example_tunes_and_resumes(tmp_path):
    script = REPO / "examples" / "own_tuner" / "tune_with_greedy.py"
    run = [sys.executable, str(script), str(tmp_path / "greedy")]
    first = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stdout.startswith("best value ")
    lines = trial_lines(tmp_path / "greedy")
    assert len(lines) == 12 and {line["tuner"]["proposer"] for line in lines} == {
        "random",
        "greedy",
    }
    again = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert again.stdout == first.stdout and trial_lines(tmp_path / "greedy") == lines


@pytest.mark.slow
def test_the_pytorch_example_prunes_with_asha_and_the_docs_show_its_output(tmp_path):
    """A plain PyTorch loop pruned through llmhpo.report (slow tier, as every example:
    test_pruning.py prunes API studies in the default one); the output docs/pruners.md shows
    is what the script prints, in shape (its figures come from scripts/capture_examples.py,
    whose floating point may differ from this run's)."""
    script = REPO / "examples" / "pytorch_asha.py"
    run = [sys.executable, str(script), str(tmp_path / "asha")]
    first = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    lines = trial_lines(tmp_path / "asha")
    pruned = [line for line in lines if line["status"] == "pruned"]
    assert len(lines) == 12 and pruned and len(pruned) < 12
    assert all(len(line["curve"]) < 8 for line in pruned)
    shape = re.compile(r"trial +\d+: (ok|pruned) +after \d of 8 epochs, validation error 0\.\d{3}")
    shown = (REPO / "docs" / "snippets" / "pytorch_asha.txt").read_text().splitlines()
    for output in (first.stdout.splitlines(), shown):
        assert len(output) == 13 and all(shape.fullmatch(line) for line in output[:12])
        assert re.fullmatch(r"\d+ of 12 trials pruned; best validation error .*", output[12])
    again = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and again.stdout == first.stdout  # resumed, not rerun
    assert trial_lines(tmp_path / "asha") == lines
