"""The benchmark scripts run end to end at tiny sizes and print what docs/benchmarks.md shows.

Their figures are not checked (timings are never asserted); their shape is, so that a
change that breaks a script is caught here rather than on a lent GPU.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.objectives import curve_studies

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def run_script(name: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / name), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    return result.stdout


@pytest.mark.slow
def test_bench_train_prints_every_path_and_lightnings_host_time():
    out = run_script(
        "bench_train.py",
        *("--images", "200", "--batch-size", "16", "--warmup", "1", "--reference-steps", "1"),
        *("--models", "resnet9", "--batches-per-call", "1", "4"),
    )
    rates = dict(re.findall(r"^resnet9\s+(\S.*?)\s+\d+\s+(\d+\.\d\d)x$", out, re.MULTILINE))
    assert set(rates) == {"hand-written", "llmhpo, 1 per call", "llmhpo, 4 per call", "reference"}
    assert rates["hand-written"] == "1.00" and all(float(r) > 0 for r in rates.values())
    assert re.search(r"resnet9\s+llmhpo, 4 per call / reference = \d+\.\d\dx", out)
    added = re.findall(r"llmhpo,\s+(\d+) per call\s+[\d.]+\s+Lightning adds\s+-?[\d.]+$", out, re.M)
    assert added == ["1", "4"]


def test_bench_toy_prints_regret_per_tuner_and_function():
    out = run_script(
        "bench_toy.py",
        "--tuners",
        "random",
        "bo-tpe",
        "--functions",
        "branin",
        "--seeds",
        "2",
        "--evals",
        "10",
        "--versus",
        "bo-tpe",
    )
    row = re.search(r"^branin\s+(\d+\.?\d*)\s+(\d+\.?\d*)$", out, re.MULTILINE)
    assert row and all(float(value) >= 0 for value in row.groups())  # regret: never below 0
    assert re.search(r"^bo-tpe\s+seconds per proposal: median", out, re.MULTILINE)
    interval = r"[+-][\d.e+-]+ \[[+-][\d.e+-]+, [+-][\d.e+-]+\]"
    assert re.search(rf"^branin random\s+{interval}$", out, re.MULTILINE), out
    assert re.search(r"^random regret@10: worse than bo-tpe beyond the noise on [01] of 1 ", out,
                     re.MULTILINE)  # fmt: skip


def test_bench_loop_prints_the_ratio_to_optunas_own_loop():
    out = run_script(
        "bench_loop.py", "--random-trials", "30", "--tpe-trials", "10", "--repeats", "1"
    )
    number = r"\s+(\d+\.\d+)"
    rows = re.findall(
        rf"^(random|tpe)\s+(\d+){number}{number}{number}x{number}{number}{number}x$",
        out,
        re.MULTILINE,
    )
    assert [(name, trials) for name, trials, *_ in rows] == [("random", "30"), ("tpe", "10")]
    for _, _, ours, theirs, ratio, our_setup, _, whole in rows:
        assert float(ratio) == pytest.approx(float(ours) / float(theirs), rel=0.05)
        assert float(our_setup) > 0 and float(whole) > 0  # set-up and loop together


def test_bench_pruners_compares_each_pruned_study_with_its_full_twin(tmp_path):
    curve_studies(tmp_path, [(None, 6), ("asha", 12), ("hyperband", 12)])
    out = run_script("bench_pruners.py", str(tmp_path), "--per-study")
    rows = re.findall(r"^\| random \| (asha|hyperband) \| 2 \| (\d)/2 \| ([\d.]+) \|", out, re.M)
    assert [pruner for pruner, _, _ in rows] == ["asha", "hyperband"], out
    # random search proposes the same first configurations with or without a pruner, so the
    # pruned twin reaches the full one's best, within its epochs or later
    assert all(0 <= float(saved) < 1 for _, _, saved in rows)
    # --per-study: the four pruned studies, each beside its twin's 6 trials of 6 epochs
    studies = re.findall(r"^\| quadratic \| random \| (asha|hyperband) \| (\d) \| 36 \|", out, re.M)
    assert sorted(studies) == [("asha", "0"), ("asha", "1"), ("hyperband", "0"), ("hyperband", "1")]


def test_bench_workers_prints_idle_fractions_and_the_batch_to_async_time_ratio():
    out = run_script("bench_workers.py", "--seeds", "1", "--budget", "12", "--workers", "1", "4")
    rows = re.findall(r"^\S*\s*(\d+)?\s+(async|batch)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", out, re.M)
    assert len(rows) == 8, out  # random and TPE, 1 and 4 workers, each mode
    ratios = re.findall(r"^\S*\s+(1|4)\s+(\d+\.\d\d)$", out, re.MULTILINE)
    assert [workers for workers, _ in ratios] == ["1", "4", "1", "4"], out
    assert all(float(ratio) == 1.0 for workers, ratio in ratios if workers == "1")
