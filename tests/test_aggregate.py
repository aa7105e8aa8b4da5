"""scripts/aggregate.py on run folders made by real toy studies."""

import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from llmhpo.results import plots, stats
from llmhpo.results.load import load_runs
from tests.helpers.objectives import curve_studies
from tests.helpers.runs import run_cli

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def multirun(tmp_path_factory):
    root = tmp_path_factory.mktemp("studies")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "llmhpo.run",
            "-m",
            "objective=toy",
            "objective.function=branin,himmelblau",
            "tuner=random,bo",
            "seed=range(3)",
            "budget=6",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "outputs" / "multirun"


def aggregate(*args):
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "aggregate.py"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_best_so_far_of_a_known_sequence():
    got = stats.best_so_far([5.0, 3.0, None, 4.0, float("nan"), 1.0])
    assert got.tolist() == [5.0, 3.0, 3.0, 3.0, 3.0, 1.0]
    assert np.isnan(stats.best_so_far([None, 2.0])[0])  # no success yet: no best


def test_seeded_bootstrap_is_reproduced_exactly():
    samples = np.random.default_rng(0).normal(size=20)
    first = stats.bootstrap_mean(samples, np.random.default_rng(7), n=500)
    again = stats.bootstrap_mean(samples, np.random.default_rng(7), n=500)
    other = stats.bootstrap_mean(samples, np.random.default_rng(8), n=500)
    assert first == again and first != other
    means = np.random.default_rng(7).choice(samples, size=(500, 20), replace=True).mean(axis=1)
    assert first == (np.percentile(means, 2.5), np.percentile(means, 97.5))


def summary_of(table):
    return pd.DataFrame(
        [{"task": t, "tuner": u, "k": 10, "mean": v} for (t, u), v in table.items()]
    )


def test_beats_random_share_relative_change_and_rank_on_a_constructed_case():
    table = {
        ("a", "random"): 10.0,
        ("a", "llm"): 5.0,
        ("a", "bo"): 8.0,
        ("b", "random"): 10.0,
        ("b", "llm"): 20.0,
        ("b", "bo"): 8.0,
        ("c", "random"): 4.0,
        ("c", "llm"): 2.0,
        ("c", "bo"): 1.0,
        ("d", "random"): 1.0,
        ("d", "llm"): 0.5,
        ("d", "bo"): 2.0,
    }
    result = stats.compare_to_random(summary_of(table), 10, minima={"a": 0.0, "c": 0.0})
    assert result.loc["llm", "beats_random"] == 0.75
    assert result.loc["bo", "beats_random"] == 0.75  # a, b, c; not d
    assert result.loc["llm", "median_rel_change"] == pytest.approx(-0.5)  # -0.5, +1.0, -0.5, -0.5
    assert result.loc["llm", "mean_rel_change"] == pytest.approx(-0.125)
    # ranks per task: a: llm 1, bo 2, random 3; b: bo 1, random 2, llm 3; c: bo 1, llm 2, random 3;
    # d: llm 1, random 2, bo 3
    assert result.loc["llm", "mean_rank"] == pytest.approx((1 + 3 + 2 + 1) / 4)
    assert result.loc["bo", "mean_rank"] == pytest.approx((2 + 1 + 1 + 3) / 4)
    assert result.loc["random", "mean_rank"] == pytest.approx((3 + 2 + 3 + 2) / 4)
    assert result.loc["llm", "normalised_regret"] == pytest.approx((5 / 10 + 2 / 4) / 2)


def test_a_task_random_search_solved_counts_for_the_share_not_the_relative_change():
    table = {("a", "random"): 0.0, ("a", "bo"): 0.1, ("b", "random"): 2.0, ("b", "bo"): 1.0}
    result = stats.compare_to_random(summary_of(table), 10)
    assert result.loc["bo", "beats_random"] == 0.5
    assert result.loc["bo", "median_rel_change"] == result.loc["bo", "mean_rel_change"] == -0.5


def test_a_tie_with_random_does_not_beat_it():
    table = {("a", "random"): 3.0, ("a", "llm"): 3.0, ("b", "random"): 3.0, ("b", "llm"): 2.0}
    result = stats.compare_to_random(summary_of(table), 10)
    assert result.loc["llm", "beats_random"] == 0.5  # b only: a tie is no win


def test_the_baseline_is_per_seed_random_where_it_reaches_k_else_the_pooled_curve():
    rows = [
        ("a", "random", 10, 4.0),  # per-seed random studies reach k=10 on task a only
        ("a", stats.POOLED, 10, 5.0),
        ("a", "llm", 10, 4.5),
        ("b", stats.POOLED, 10, 2.0),
        ("b", "llm", 10, 1.0),
    ]
    summary = pd.DataFrame(rows, columns=["task", "tuner", "k", "mean"])
    auto = stats.compare_to_random(summary, 10)
    assert auto.loc["llm", "beats_random"] == 0.5  # a: 4.5 vs random's 4.0; b: 1.0 vs pooled 2.0
    assert auto.loc["llm", "baseline"] == "random on 1 tasks, random (pooled) on 1 tasks"
    pooled = stats.compare_to_random(summary, 10, baseline="pooled")
    assert pooled.loc["llm", "beats_random"] == 1.0 and pooled.loc["llm", "tasks"] == 2
    assert pooled.loc["llm", "baseline"] == stats.POOLED
    per_seed = stats.compare_to_random(summary, 10, baseline="random")
    assert per_seed.loc["llm", "beats_random"] == 0.0 and per_seed.loc["llm", "tasks"] == 1
    with pytest.raises(ValueError, match="baseline must be one of"):
        stats.compare_to_random(summary, 10, baseline="best")


def test_bootstrap_interval_bounds_of_a_hand_computed_case():
    # Nine zeros and a one: the mean of 10 draws is Binomial(10, 0.1) / 10, with
    # P(0) = 0.349 (so the 2.5th percentile is 0) and P(<= 0.2) = 0.930 < 0.975 <
    # P(<= 0.3) = 0.987 (so the 97.5th percentile is 0.3).
    samples = np.array([0.0] * 9 + [1.0])
    assert stats.bootstrap_mean(samples, np.random.default_rng(0), n=20_000) == (0.0, 0.3)


def test_pooled_random_bounds_and_mean_of_a_hand_computed_case():
    # Best of 2 draws from {1, 2, 3, 4}: P(1) = 7/16, P(2) = 5/16, P(3) = 3/16, P(4) = 1/16,
    # mean 30/16; the 2.5th percentile is 1, and P(<= 3) = 15/16 < 0.975 puts the 97.5th at 4.
    trials = pd.DataFrame(
        {"task": "t", "tuner": "random", "status": "ok", "value": [1.0, 2.0, 3.0, 4.0]}
    )
    row = stats.pooled_random(trials, 2, seed=0, n_boot=20_000).iloc[1]
    assert (row["k"], row["low"], row["high"]) == (2, 1.0, 4.0)
    assert row["mean"] == pytest.approx(30 / 16, abs=0.02)


def test_pooled_random_is_seeded_and_uses_every_random_configuration():
    trials = pd.DataFrame(
        {"task": "t", "tuner": "random", "status": "ok", "value": [4.0, 2.0, 8.0, 6.0]}
    )
    a = stats.pooled_random(trials, 3, seed=1, n_boot=200)
    assert a.equals(stats.pooled_random(trials, 3, seed=1, n_boot=200))
    assert a["mean"].is_monotonic_decreasing and a["runs"].eq(4).all()
    assert a.iloc[0]["mean"] == pytest.approx(5.0, abs=0.6)  # one draw: the pool's mean


def test_versus_reads_the_interval_of_a_constructed_case():
    # On task a, "far" is 10 above the baseline on every seed (worse beyond any noise), "close"
    # straddles it; on task b, "far" is 10 below. The difference is of the means over seeds.
    best = {("a", "base"): [1.0, 2.0, 3.0], ("a", "far"): [11.0, 12.0, 13.0],
            ("a", "close"): [0.0, 2.0, 4.0], ("b", "base"): [20.0, 21.0, 22.0],
            ("b", "far"): [10.0, 11.0, 12.0]}  # fmt: skip
    curves = pd.DataFrame(
        [{"task": task, "tuner": tuner, "run": f"{tuner}{i}", "k": 5, "best": value}
         for (task, tuner), values in best.items() for i, value in enumerate(values)]
    )  # fmt: skip
    table = stats.versus(curves, "base", [5], seed=0, n_boot=2000).set_index(["task", "tuner"])
    assert table.loc[("a", "far"), "difference"] == pytest.approx(10.0)
    assert 8.0 <= table.loc[("a", "far"), "low"] <= 10.0 <= table.loc[("a", "far"), "high"] <= 12
    assert list(table["verdict"]) == ["within noise", "worse", "better"]
    counts = stats.versus_counts(table.reset_index())
    assert counts.loc["far"].tolist() == [5, 2, 1, 0, 1]  # k, tasks, worse, within, better
    assert counts.loc["close"].tolist() == [5, 1, 0, 1, 0]
    alone = stats.versus(curves[curves["tuner"] != "close"], "base", [5], seed=0, n_boot=2000)
    far = table.xs("far", level="tuner")[["low", "high"]].to_numpy()
    assert (alone.set_index("task")[["low", "high"]].to_numpy() == far).all()  # own streams


@pytest.mark.slow  # kept out of `make test` (under 5 min); `make test-all` runs it
def test_aggregate_compares_every_tuner_with_the_one_named_by_versus(multirun, tmp_path):
    result = aggregate(multirun, "--out", tmp_path / "out", "--versus", "bo-tpe", "--ks", "3")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(tmp_path / "out" / "versus.csv")
    assert set(table["tuner"]) == {"random"} and set(table["k"]) == {3, 6}
    assert len(table) == 4 and (table["runs"] == 3).all() and (table["low"] <= table["high"]).all()
    assert "versus bo-tpe" in result.stdout
    missing = aggregate(multirun, "--out", tmp_path / "other", "--versus", "bo-gp")
    assert missing.returncode == 0 and "no run of that tuner" in missing.stderr
    assert "bo-tpe, random" in missing.stderr and not (tmp_path / "other" / "versus.csv").exists()


def test_aggregate_writes_tables_and_images(multirun, tmp_path):
    result = aggregate(multirun, "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 2 * 2 * 3 * 6 and trials["run"].nunique() == 12
    assert set(trials["tuner"]) == {"random", "bo-tpe"} and set(trials["task"]) == {
        "toy-branin",
        "toy-himmelblau",
    }
    curves = pd.read_csv(out / "curves.csv")
    by_hand = trials[(trials["task"] == "toy-branin") & (trials["tuner"] == "random")]
    expected = by_hand.groupby("run")["value"].min().mean()
    got = curves[
        (curves["task"] == "toy-branin") & (curves["tuner"] == "random") & (curves["k"] == 6)
    ]
    assert got["mean"].iloc[0] == pytest.approx(expected)
    assert "| toy-branin | bo-tpe |" in (out / "best_at_k.md").read_text()
    vs = pd.read_csv(out / "vs_random.csv")
    assert set(vs["k"]) == {1, 3, 5, 6} and "beats_random" in vs.columns
    pngs = sorted(out.rglob("*.png"))
    assert (
        len(list((out / "curves").glob("*.png"))) == 2
        and len(list((out / "paths").glob("*.png"))) == 12
    )
    assert out / "curves.png" in pngs  # both tasks in one figure
    for png in [out / "curves.png", *pngs[:3]]:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert matplotlib.image.imread(png).ndim == 3


def test_torn_and_unfinished_runs_are_reported_not_fatal(multirun, tmp_path):
    broken = tmp_path / "runs"
    broken.mkdir()
    for source in sorted(multirun.glob("toy-branin_random_*"))[:2]:
        subprocess.run(["cp", "-r", str(source), str(broken)], check=True)
    torn, unfinished = sorted(broken.iterdir())
    log = torn / "trials.jsonl"
    log.write_text(log.read_text() + '{"round": 6, "stat')
    before = log.read_bytes()
    (unfinished / "summary.json").unlink()
    loaded = load_runs([str(broken)])
    assert any(str(torn) in p and "torn last line" in p for p in loaded.problems)
    assert any(str(unfinished) in p and "unfinished: 6 of 6" in p for p in loaded.problems)
    assert len(loaded.trials) == 12
    assert log.read_bytes() == before  # aggregation never rewrites a run
    result = aggregate(broken, "--out", tmp_path / "out")
    assert result.returncode == 0 and "torn last line" in result.stderr
    assert "torn last line" in (tmp_path / "out" / "problems.txt").read_text()


def test_a_missing_path_is_reported(tmp_path):
    result = aggregate(tmp_path / "nothing", "--out", tmp_path / "out")
    assert result.returncode == 1
    assert "no such file or folder" in result.stderr and "no trials found" in result.stderr


@pytest.mark.slow  # kept out of `make test` (under 5 min); `make test-all` runs it
def test_single_trial_random_seeds_give_a_pooled_baseline_at_every_k(tmp_path):
    """The workflow of docs/aggregation.md: random search as single-trial studies, a tuner with 5 rounds."""
    for args in (
        ["tuner=random", "budget=1", "seed=range(6)"],
        ["tuner=bo", "budget=5", "seed=range(2)"],
    ):
        made = run_cli(["-m", "objective=toy", *args], tmp_path, timeout=300)
        assert made.returncode == 0, made.stdout[-3000:]
    result = aggregate(
        tmp_path / "outputs" / "multirun", "--out", tmp_path / "out", "--bootstrap", "300"
    )
    assert result.returncode == 0, result.stderr
    vs = pd.read_csv(tmp_path / "out" / "vs_random.csv").set_index(["tuner", "k"])
    assert {k for _, k in vs.index} == {1, 3, 5}
    assert vs.loc[("bo-tpe", 5), "baseline"] == stats.POOLED
    assert vs.loc[("bo-tpe", 1), "baseline"] == "random"  # the per-seed studies reach k=1
    assert vs.loc[("bo-tpe", 5), "tasks"] == 1

    # --bootstrap N is the number of draws everywhere: the curves equal a direct computation
    # with N draws, and differ from one with fewer.
    trials = pd.read_csv(tmp_path / "out" / "trials.csv")
    curves = pd.read_csv(tmp_path / "out" / "curves.csv")
    direct = stats.summarise_curves(stats.run_curves(trials), seed=0, n_boot=300)
    pooled = stats.pooled_random(trials, 5, seed=0, n_boot=300)
    fewer = stats.pooled_random(trials, 5, seed=0, n_boot=3)
    written = curves.set_index(["tuner", "k"])
    for frame in (direct, pooled):
        for row in frame.itertuples():
            assert written.loc[(row.tuner, row.k), "low"] == pytest.approx(row.low)
            assert written.loc[(row.tuner, row.k), "high"] == pytest.approx(row.high)
    assert not np.allclose(fewer["high"], pooled["high"])


def test_runs_without_random_search_are_aggregated_and_plotted(tmp_path):
    """A folder with no random-search run has no pooled baseline: its empty table must not
    turn the curves' columns into objects, which matplotlib cannot plot."""
    made = run_cli(["objective=toy", "tuner=bo", "budget=2"], tmp_path)
    assert made.returncode == 0, made.stdout[-3000:]
    result = aggregate(tmp_path / "outputs", "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(list((tmp_path / "out" / "curves").glob("*.png"))) == 1
    assert not (tmp_path / "out" / "curves.png").exists()  # one task: its own figure is enough


def test_pruned_studies_are_named_apart_and_compared_at_equal_cost(tmp_path):
    from llmhpo.results.aggregate import main

    curve_studies(tmp_path / "runs", [(None, 12), ("asha", 12)])
    assert main([str(tmp_path / "runs"), "--out", str(tmp_path / "out"), "--bootstrap", "50"]) == 0
    table = pd.read_csv(tmp_path / "out" / "best_at_cost.csv")
    assert set(table["tuner"]) == {"random", "random+asha"}
    trials = pd.read_csv(tmp_path / "out" / "trials.csv")
    spent = trials.groupby("tuner")["steps"].sum()
    assert spent["random+asha"] < spent["random"] == 2 * 12 * 6  # every full trial: 6 epochs
    # The budgets are what every study spent: the thriftiest pruned study's epochs.
    common = trials.groupby("run")["steps"].sum().min()
    assert sorted(set(table["cost"])) == [common / 4, common / 2, common]
    at_quarter = table[table["cost"] == common / 4].set_index("tuner")["mean"]
    # Random search proposes the same configurations with or without a pruner: within a
    # quarter of the spending the pruned studies have seen more of them, never fewer.
    assert at_quarter["random+asha"] <= at_quarter["random"]
    assert (tmp_path / "out" / "cost" / "quadratic.png").stat().st_size > 0


@pytest.mark.parametrize(
    "means,log",
    [
        ([1000.0, 3.0, 0.01], True),  # an MSE over decades: the end would be a flat line
        ([0.4, 0.2, 0.1], False),  # error rates within a decade read better linear
        ([0.5, 0.1, 0.0], False),  # a regret that reaches 0 has no log scale
    ],
)
def test_a_tasks_curves_go_on_a_log_scale_where_they_span_decades(means, log):
    rows = pd.DataFrame({"task": "t", "tuner": "random", "k": [1, 2, 3], "mean": means})
    assert plots._log_fits(rows) is log
