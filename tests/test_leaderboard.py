"""The leaderboard: its statistics against values worked out by hand, and one small
leaderboard run end to end from the CLI (a multirun over two benchmarks, then
llmhpo-leaderboard)."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from llmhpo.errors import ConfigError
from llmhpo.objectives.bayesmark import starting_configs
from llmhpo.objectives.benchmarks import benchmark_objective, split_task
from llmhpo.results import leaderboard as board
from llmhpo.results.leaderboard_command import main as leaderboard_main
from llmhpo.results.leaderboard_command import uneven_note
from tests.helpers.runs import run_cli, trial_lines


def curve_rows(task: str, tuner: str, seed: int, bests: list[float]) -> list[dict]:
    run = f"{task}/{tuner}/{seed}"
    return [{"task": task, "tuner": tuner, "seed": seed, "run": run, "k": k, "best": best}
            for k, best in enumerate(bests, start=1)]  # fmt: skip


def test_holm_multiplies_the_ith_smallest_by_m_minus_i_plus_one_and_keeps_the_order():
    # m = 3 present: 0.01 * 3 = 0.03; 0.03 * 2 = 0.06; 0.04 * 1 = 0.04, raised to 0.06
    adjusted = board.holm([0.01, 0.04, 0.03, float("nan")])
    assert adjusted[:3] == pytest.approx([0.03, 0.06, 0.06]) and math.isnan(adjusted[3])
    assert board.holm([0.6, 0.5]) == pytest.approx([1.0, 1.0])  # capped at 1


def test_the_paired_test_is_wilcoxons_exact_signed_rank_test_over_task_seed_pairs():
    # differences (tuner - baseline) of 7 pairs: one tie, five wins, one loss of the smallest
    # size. Without the tie, |d| ranks 1..6 and W+ = 1 (the loss), so the exact two-sided
    # p = 2 * P(W <= 1) = 2 * 2 / 2**6 = 0.0625.
    differences = [-0.3, -0.2, -0.1, 0.05, -0.4, -0.25, 0.0]
    rows = []
    for index, difference in enumerate(differences):
        task = f"task{index}"
        rows += curve_rows(task, "random+default", 0, [1.0, 0.5])
        rows += curve_rows(task, "mine", 0, [1.0, 0.5 + difference])
    curves = pd.DataFrame(rows).assign(regret=lambda frame: frame["best"])
    table = board.paired_tests(curves, "random+default", k=2).set_index("tuner")
    mine = table.loc["mine"]
    assert (mine["pairs"], mine["wins"], mine["ties"], mine["losses"]) == (7, 5, 1, 1)
    assert mine["p"] == pytest.approx(0.0625)
    assert mine["median_difference"] == pytest.approx(-0.2)
    at_one = board.paired_tests(curves, "random+default", k=1).set_index("tuner")
    assert at_one.loc["mine", "ties"] == 7 and at_one.loc["mine", "p"] == 1.0  # all tied


def test_where_the_baseline_ran_no_study_the_fallback_stands_in():
    rows = curve_rows("bayesmark-SVM-iris", "random", 0, [0.5])  # no random+default there
    rows += curve_rows("bayesmark-SVM-iris", "mine", 0, [0.25])
    rows += curve_rows("hpobench-car", "random+default", 0, [0.5])
    rows += curve_rows("hpobench-car", "random", 0, [0.75])
    rows += curve_rows("hpobench-car", "mine", 0, [0.5])
    curves = pd.DataFrame(rows).assign(regret=lambda frame: frame["best"])
    table = board.paired_tests(curves, "random+default", 1, fallback="random").set_index("tuner")
    assert table.loc["mine", ["pairs", "wins", "ties", "losses"]].tolist() == [2, 1, 1, 0]
    # the stand-in itself, only where the baseline ran (never against itself)
    assert table.loc["random", ["pairs", "wins", "ties", "losses"]].tolist() == [1, 0, 0, 1]


def test_regret_ranks_and_the_share_beating_random_on_a_small_frame():
    rows = curve_rows("own", "random", 0, [4.0, 3.0, 2.0])
    rows += curve_rows("own", "a", 0, [4.0, 1.0, 0.0])
    rows += curve_rows("own", "b", 0, [5.0])  # stopped after one evaluation
    scales = pd.DataFrame({"optimum": [0.0], "reference": [2.0], "source": ["observed"]},
                          index=pd.Index(["own"], name="task"))  # fmt: skip
    curves = board.normalised(pd.DataFrame(rows), scales)
    assert curves["regret"].tolist() == [2.0, 1.5, 1.0, 2.0, 0.5, 0.0, 2.5]
    at_three = board.at(curves, 3).set_index("tuner")["regret"]
    assert at_three.to_dict() == {"random": 1.0, "a": 0.0, "b": 2.5}  # b: its last value

    ranks = board.mean_ranks(curves).set_index(["tuner", "k"])["rank"]
    assert ranks[("random", 1)] == ranks[("a", 1)] == 1.5 and ranks[("b", 1)] == 3.0
    assert ranks[("a", 2)] == 1.0 and ranks[("random", 2)] == 2.0
    assert board.beats_random_share(curves, 3).to_dict() == {"a": 1.0, "b": 0.0}


def test_the_regret_interval_resamples_seeds_within_each_task():
    rows = [{"task": task, "tuner": "t", "run": f"{task}{seed}", "seed": seed, "k": 1,
             "regret": regret}
            for task, regrets in (("a", [0.0, 1.0]), ("b", [2.0, 2.0]))
            for seed, regret in enumerate(regrets)]  # fmt: skip
    table = board.mean_regret(pd.DataFrame(rows), seed=0, n_boot=2000)
    row = table.iloc[0]
    # Task a's mean draws 0, 0.5 or 1 (a quarter, a half, a quarter), b's is always 2: the
    # mean of the four studies is 1, 1.25 or 1.5. Drawing studies across tasks would reach
    # below 1 (all four from a's), as would an interval from a normal approximation.
    assert (row["regret"], row["low"], row["high"]) == (1.25, 1.0, 1.5)
    # another tuner's studies leave this tuner's interval as it was (a stream of its own)
    frame = pd.DataFrame([{**row, "seed": seed, "run": f"{task}{seed}", "task": task,
                           "regret": value}
                          for task, values in (("a", [0.1, 0.5, 0.9]), ("b", [0.2, 0.4, 1.3]))
                          for seed, value in enumerate(values) for row in rows[:1]])  # fmt: skip
    noisy = frame.assign(tuner="other", regret=frame["regret"] * 3.0)
    both = board.mean_regret(pd.concat([noisy, frame]), seed=0, n_boot=50).set_index("tuner")
    alone = board.mean_regret(frame, seed=0, n_boot=50).set_index("tuner")
    assert both.loc["t"].tolist() == alone.loc["t"].tolist()
    twins = board.mean_regret(pd.concat([frame, frame.assign(tuner="twin")]), n_boot=50)
    assert twins.set_index("tuner").loc["twin"].tolist() == alone.loc["t"].tolist()


def test_each_benchmark_is_normalised_on_its_own_scale():
    observed = np.array([0.3, 0.2, 0.4])
    optimum, reference, source = board.task_scale("hpobench-australian", observed)
    assert source == "table" and 0 < optimum < reference < 0.2  # the table's least and median
    low, high, source = board.task_scale("bayesmark-SVM-diabetes", observed)
    assert source == "Bayesmark's bounds" and low < high  # MSE: the value is the score
    assert board.task_scale("bayesmark-SVM-iris", observed) == (0.2, 0.3, "observed")  # no bounds
    assert board.task_scale("branin", observed) == (0.2, 0.3, "observed")


def test_a_task_name_that_names_no_task_is_refused_with_the_forms_that_do():
    assert split_task("bayesmark-SVM-breast") == ("bayesmark", ["SVM", "breast"])
    with pytest.raises(ConfigError, match="names no task.*bayesmark-<model>-<dataset>"):
        benchmark_objective("bayesmark-SVM")
    with pytest.raises(ConfigError, match="naval_propulsion"):  # the table names its datasets
        benchmark_objective("hpolib-naval")


def test_a_small_leaderboard_from_the_cli_to_its_tables_and_plots(tmp_path):
    sweep = tmp_path / "multirun"
    result = run_cli(
        ["-m", "experiment=leaderboard", "task=hpobench-australian,bayesmark-DecisionTree-wine",
         "tuner=random,random_default,bo", "seed=0,1", "budget=6", f"hydra.sweep.dir={sweep}"],
        tmp_path,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    folders = sorted(path for path in sweep.iterdir() if (path / "trials.jsonl").is_file())
    assert len(folders) == 2 * 3 * 2
    for folder in folders:  # on Bayesmark, default-first random search starts as every tuner
        if folder.name.startswith("bayesmark-DecisionTree-wine_random_default_seed1"):
            configs = [line["config"] for line in trial_lines(folder)]
            assert configs[:5] == starting_configs("DecisionTree", 1)[:5]

    out = tmp_path / "board"
    assert leaderboard_main([str(sweep), "--out", str(out), "--ks", "3"]) == 0
    for name in ("leaderboard.md", "regret.csv", "ranks.csv", "pairs.csv", "scales.csv",
                 "generalisation.csv", "rank.png", "regret.png"):  # fmt: skip
        assert (out / name).stat().st_size > 0, name
    scales = pd.read_csv(out / "scales.csv", index_col="task")
    assert scales["source"].to_dict() == {
        "bayesmark-DecisionTree-wine": "Bayesmark's bounds", "hpobench-australian": "table"
    }  # fmt: skip
    regret = pd.read_csv(out / "regret.csv")
    assert ((regret["low"] <= regret["regret"]) & (regret["regret"] <= regret["high"])).all()
    text = (out / "leaderboard.md").read_text()
    assert "## Mean normalised regret with 95% bootstrap intervals" in text
    for k in (3, 6):  # per benchmark at each --ks and at the budget
        assert f"## Mean normalised regret per benchmark at {k} evaluations" in text
    ranks = pd.read_csv(out / "ranks.csv")
    assert set(ranks["tuner"]) == {"random", "random+default", "bo-tpe"}
    assert sorted(set(ranks["k"])) == list(range(1, 7))
    pairs = pd.read_csv(out / "pairs.csv")
    # against random+default (random search on Bayesmark, which has no default-first control)
    assert set(pairs["k"]) == {3, 6}
    pairs = pairs.set_index(["tuner", "k"])
    assert (pairs["pairs"] == 4).all()  # 2 tasks x 2 seeds, random search against its own
    # default-first control too; on Bayesmark both start from the same 5 configurations
    assert pairs.loc[("random", 3), "ties"] >= 2
    generalisation = pd.read_csv(out / "generalisation.csv")
    assert set(generalisation["scorer"]) == {"accuracy"}  # wine; diabetes would be "mse"
    assert (generalisation["studies"] == 2).all()  # the Bayesmark studies' test scores

    exported = out / "runs" / "bayesmark-DecisionTree-wine" / "random" / "0.csv"
    frame = pd.read_csv(exported)
    assert len(frame) == 6 and {"score", "generalization_score"} <= set(frame.columns)
    first = trial_lines(next(f for f in folders if f.name.startswith(
        "bayesmark-DecisionTree-wine_random_seed0")))[0]  # fmt: skip
    assert frame["score"].iloc[0] == pytest.approx(first["metrics"]["score"])
    assert frame["generalization_score"].iloc[0] == pytest.approx(first["metrics"]["test_score"])
    assert json.loads(frame.drop(columns=["score", "generalization_score"]).iloc[0].to_json()) \
        == pytest.approx(first["config"])  # fmt: skip
    text = (out / "leaderboard.md").read_text()
    assert "12 studies" in text and "bo-tpe" in text and "Not every tuner" not in text

    chosen = tmp_path / "chosen"
    assert leaderboard_main([str(sweep), "--out", str(chosen), "--tuners", "random", "bo-tpe"]) == 0
    assert set(pd.read_csv(chosen / "ranks.csv")["tuner"]) == {"random", "bo-tpe"}


def test_ranks_among_different_sets_of_tasks_are_flagged():
    rows = curve_rows("own", "random", 0, [1.0]) + curve_rows("own", "a", 0, [0.5])
    rows += curve_rows("other", "random", 0, [1.0])
    note = " ".join(uneven_note(pd.DataFrame(rows)))
    assert "a: 1 of 2" in note and "random:" not in note
