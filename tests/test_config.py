"""Every option of every config group composes and builds."""

import pytest
from omegaconf import OmegaConf, open_dict

from llmhpo.assemble import LLM_TUNERS, check
from llmhpo.assemble.parts import build_objective, build_search_space, build_tuner
from llmhpo.errors import ConfigError
from llmhpo.objectives.benchmarks import FAMILIES, tasks
from llmhpo.objectives.toy import TOY_FUNCTIONS, ToyObjective
from llmhpo.space import SearchSpace, SearchSpaceError
from llmhpo.store.folder import job_config, run_name
from llmhpo.store.naming import tuner_label
from tests.helpers.config import CONF, compose_config


def options(group: str) -> list[str]:
    return sorted(path.stem for path in (CONF / group).glob("*.yaml"))


def test_defaults_are_the_papers_setup():
    cfg = compose_config()
    assert cfg.seed == 0 and cfg.budget == 10
    assert cfg.objective._target_.endswith("TrainObjective")
    assert cfg.model.name == "resnet9" and cfg.dataset.name == "cifar10"
    assert cfg.search_space.name == "constrained"
    assert cfg.tuner._target_.endswith("LLMTuner")
    assert cfg.llm.provider == "litellm" and cfg.llm.api_key_env == "OPENAI_API_KEY"
    assert cfg.prompt.format == "compressed" and cfg.trainer.max_epochs == 20


def test_toy_objective_brings_its_space():
    cfg = compose_config(["objective=toy"])
    assert cfg.objective.function == "branin" and cfg.search_space.name == "toy2d"


@pytest.mark.parametrize("option", options("search_space"))
def test_every_search_space_composes_and_builds(option):
    cfg = compose_config(["objective=toy", f"search_space={option}"])
    space_cfg = OmegaConf.to_container(cfg.search_space, resolve=True)
    if space_cfg.get("from_objective"):
        space = build_search_space(cfg, build_objective(cfg))
        assert space.names == ["x1", "x2"]
    elif option.startswith("hpobench_"):  # HPOBench's model spaces, for objective=sklearn
        space = SearchSpace.from_config(space_cfg)
        assert space.name == option and len(space.names) >= 2
    else:
        space = SearchSpace.from_config(space_cfg)
        assert {"optimizer", "learning_rate", "train_batch_size"} <= set(space.names)


def test_vit_arch_space_has_the_architecture_keys():
    cfg = compose_config(["search_space=vit_arch"])
    space = SearchSpace.from_config(OmegaConf.to_container(cfg.search_space, resolve=True))
    assert space.params["heads"].choices == (4, 8, 16)
    assert space.params["depth"].choices == (4, 6, 8, 12)
    assert len(space.names) == 12


@pytest.mark.parametrize("option", options("objective"))
def test_every_objective_composes_and_builds(option):
    cfg = compose_config(
        [f"objective={option}", "dataset=digits"] if option == "train" else [f"objective={option}"]
    )
    assert build_objective(cfg).name


@pytest.mark.parametrize("function", sorted(TOY_FUNCTIONS))
def test_every_toy_function_needs_no_other_override(function):
    cfg = compose_config(["objective=toy", f"objective.function={function}", "tuner=bo"])
    objective = build_objective(cfg)
    assert isinstance(objective, ToyObjective) and objective.name == f"toy-{function}"
    space = build_search_space(cfg, objective)
    assert space.params["x1"].low == TOY_FUNCTIONS[function].x1_range[0]


@pytest.mark.parametrize("option", options("tuner"))
def test_every_tuner_composes_and_builds(option, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the LLM tuner's cache folder is relative to the working dir
    extra = {
        "llm": ["llm=local"],
        "hybrid": ["llm=local"],
        "centaur": ["llm=local"],
        "llambo": ["llm=local", "tuner.n_initial=1"],  # a warm start of one configuration
        "fixed": ["tuner.config.x1=1", "tuner.config.x2=2"],
    }
    cfg = compose_config(["objective=toy", f"tuner={option}", *extra.get(option, [])])
    space = build_search_space(cfg, build_objective(cfg))
    tuner = build_tuner(cfg, space, build_objective(cfg))
    assert tuner.name == tuner_label(OmegaConf.to_container(cfg.tuner, resolve=True))
    assert space.validate(tuner.ask().config)


@pytest.mark.parametrize("option", LLM_TUNERS)
def test_an_llm_tuner_is_given_the_one_llm_and_prompt_node_of_the_study(
    option, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    cfg = compose_config(
        ["objective=toy", f"tuner={option}", "llm=local", "llm.temperature=0.25", "prompt.cot=true"]
    )
    assert "llm" not in cfg.tuner and "prompt" not in cfg.tuner
    tuner = build_tuner(cfg, build_search_space(cfg, build_objective(cfg)), build_objective(cfg))
    asks_llm = tuner.llm if option == "hybrid" else tuner
    assert asks_llm.client.inner.temperature == 0.25 and asks_llm.settings.cot  # inside the cache
    # and the study records it inside the tuner's node, as run folders have been named
    recorded = job_config(cfg)["tuner"]
    assert recorded["llm"]["temperature"] == 0.25 and recorded["prompt"]["cot"]


def test_an_llm_node_beside_a_tuner_without_an_llm_is_refused():
    cfg = compose_config(["objective=toy", "tuner=random", "+llm=local"])
    without_llm = r"an llm node \(model SmolLM2.*\), but tuner random proposes without an LLM"
    with pytest.raises(ConfigError, match=without_llm):
        check(cfg)


def test_an_llm_tuner_without_an_llm_node_is_refused():
    cfg = compose_config(["objective=toy", "tuner=llm", "llm=local"])
    with open_dict(cfg):
        cfg.tuner.name = "mine"  # not ${llm.model}
        del cfg["llm"]
    with pytest.raises(ConfigError, match=r"is built with an LLM, but the config has no llm node"):
        check(cfg)


@pytest.mark.parametrize("sampler", ["tpe", "gp"])
def test_bo_samplers_compose(sampler):
    cfg = compose_config(
        ["objective=toy", "tuner=bo", f"tuner.sampler={sampler}", "tuner.n_startup_trials=2"]
    )
    tuner = build_tuner(cfg, build_search_space(cfg, build_objective(cfg)), build_objective(cfg))
    assert tuner.name == f"bo-{sampler}" and tuner.n_startup_trials == 2


def test_unknown_bo_sampler_is_named():
    cfg = compose_config(["objective=toy", "tuner=bo", "tuner.sampler=annealing"])
    with pytest.raises(Exception, match="tuner.sampler='annealing' is not known"):
        build_tuner(cfg, build_search_space(cfg, build_objective(cfg)), build_objective(cfg))


SUITES = {  # experiment -> (its objective's class, budget)
    "hpobench_suite": ("HPOBenchObjective", 10),
    "sklearn_suite": ("SklearnObjective", 10),
    "bayesmark_suite": ("BayesmarkObjective", 30),
    "hpolib_suite": ("TableObjective", 30),
    "nb201_suite": ("TableObjective", 30),
}


@pytest.mark.parametrize("option", sorted(SUITES))
def test_every_suite_builds_every_task_it_sweeps(option):
    cfg = compose_config([f"experiment={option}"], return_hydra_config=True)
    sweep = {key: str(values).split(",") for key, values in cfg.hydra.sweeper.params.items()}
    objective_class, budget = SUITES[option]
    assert cfg.budget == budget
    assert type(build_objective(cfg)).__name__ == objective_class
    first = [f"{key}={values[0]}" for key, values in sweep.items()]
    for key, values in sweep.items():
        for value in values:  # each swept value in turn, the others at their first value
            overrides = [o for o in first if not o.startswith(f"{key}=")] + [f"{key}={value}"]
            task = compose_config([f"experiment={option}", "tuner=random", *overrides])
            objective = build_objective(task)
            assert build_search_space(task, objective) is objective.search_space


def test_the_leaderboard_sweeps_every_task_of_the_four_benchmarks_and_each_builds():
    cfg = compose_config(["experiment=leaderboard"], return_hydra_config=True)
    assert cfg.hydra.sweeper.params.task == "glob(*)" and cfg.budget == 30
    assert cfg.hydra.launcher._target_.endswith("JoblibLauncher")
    expected = [task for family in FAMILIES for task in tasks(family)]
    assert sorted(options("task")) == sorted(expected) and len(expected) == 25 + 8 + 4 + 3
    for task in expected:
        one = compose_config(["experiment=leaderboard", f"task={task}"])
        objective = build_objective(one)
        assert objective.name == task  # the name the leaderboard groups its studies by
        assert build_search_space(one, objective) is objective.search_space


HYBRID_PRESETS = {"llambo_warm_start": (3, 0.0), "sllmbo": (2, 0.5)}  # warm_start, llm_share


@pytest.mark.parametrize("option", sorted(HYBRID_PRESETS))
def test_hybrid_presets_set_the_knobs_and_build(option, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the LLM tuner's cache folder is relative to the working dir
    cfg = compose_config([f"experiment={option}", "llm=local", "objective=toy"])
    assert cfg.tuner._target_.endswith("HybridTuner")
    assert (cfg.tuner.warm_start, cfg.tuner.llm_share) == HYBRID_PRESETS[option]
    tuner = build_tuner(cfg, build_search_space(cfg, build_objective(cfg)), build_objective(cfg))
    assert (tuner.warm_start, tuner.llm_share) == HYBRID_PRESETS[option]


@pytest.mark.parametrize(
    "option",
    sorted(set(options("experiment")) - set(SUITES) - set(HYBRID_PRESETS) - {"leaderboard"}),
)
def test_every_experiment_composes(option):
    cfg = compose_config([f"experiment={option}"])
    assert cfg.tuner._target_.endswith("LLMTuner") and cfg.objective._target_.endswith(
        "TrainObjective"
    )
    if (
        option == "quickstart"
    ):  # offline: it builds here; the paper's presets need CIFAR-10 and a key
        assert cfg.dataset.name == "digits" and cfg.llm.provider == "local"
        assert build_objective(cfg).name == "train-resnet9-digits"
    else:
        assert cfg.dataset.name == "cifar10" and cfg.llm.provider == "litellm" and cfg.budget == 10


def test_toy_objective_refuses_a_space_without_x1_x2():
    cfg = compose_config(["objective=toy", "search_space=constrained"])
    with pytest.raises(SearchSpaceError, match="use search_space=toy2d"):
        build_search_space(cfg, build_objective(cfg))


def test_run_name_is_readable_and_tracks_the_config():
    names = set()
    for overrides in (
        ["seed=0"],
        ["seed=1"],
        ["search_space.parameters.learning_rate.high=0.2"],
        ["tuner=bo"],
        ["tuner=bo", "tuner.sampler=gp"],
    ):
        cfg = compose_config(overrides)
        names.add(run_name(job_config(cfg)))
    assert len(names) == 5
    # the budget bounds a study, and does not make it another: a larger one goes on in its folder
    assert run_name(job_config(compose_config(["budget=11"]))) == run_name(
        job_config(compose_config(["budget=10"]))
    )
    assert run_name(job_config(compose_config(["objective=toy", "tuner=bo"]))).startswith(
        "toy-branin_bo-tpe_seed0_"
    )
    assert run_name(job_config(compose_config())) == run_name(job_config(compose_config()))
    assert run_name(job_config(compose_config())).startswith(
        "train-resnet9-cifar10_llm-gpt-4o-compressed_seed0_"
    )


@pytest.mark.parametrize("option", options("llm"))
def test_every_llm_composes_and_builds_its_client(option, monkeypatch):
    from llmhpo.llm.clients import make_client

    cfg = compose_config(["objective=toy", "tuner=llm", f"llm={option}"])
    llm = OmegaConf.to_container(cfg.llm, resolve=True)
    if llm.get("api_key_env"):
        monkeypatch.setenv(llm["api_key_env"], "sk-fake-for-construction-only")
    client = make_client(llm, seed=0)
    assert client.model == llm["model"]


@pytest.mark.parametrize("option", options("prompt"))
def test_every_prompt_composes(option):
    from llmhpo.tuners.llm.prompts import PromptSettings

    cfg = compose_config(["objective=toy", "tuner=llm", f"prompt={option}", "prompt.cot=true"])
    settings = PromptSettings(**OmegaConf.to_container(cfg.prompt, resolve=True))
    assert settings.format == option and settings.cot
