"""Mistakes a person makes on the command line: one line naming the key, exit status 2, no
traceback, and nothing run; an LLM that stays unreachable: one line, the trials kept."""

import pytest

from tests.helpers.servers import free_port

DIGITS = ["objective=train", "dataset=digits", "trainer.max_epochs=1"]

MISTAKES = {
    "budget zero": (["objective=toy", "budget=0"], "budget must be a whole number >= 1"),
    "budget a word": (["objective=toy", "budget=ten"], "budget must be a whole number"),
    "seed a word": (["objective=toy", "seed=abc"], "seed must be a whole number"),
    "unknown sampler": (
        ["objective=toy", "tuner=bo", "tuner.sampler=annealing"],
        "tuner.sampler='annealing' is not known",
    ),
    "no attempts": (
        ["objective=toy", "tuner=llm", "llm=local", "tuner.max_attempts=0"],
        "tuner.max_attempts must be >= 1",
    ),
    "unknown fallback": (
        ["objective=toy", "tuner=llm", "llm=local", "tuner.on_invalid=maybe"],
        "tuner.on_invalid must be one of",
    ),
    "fixed configuration outside the space": (
        ["objective=toy", "tuner=fixed", "tuner.config.x1=100", "tuner.config.x2=1"],
        "'x1' is 100, above the maximum 10",
    ),
    "no epochs": ([*DIGITS, "tuner=random", "trainer.max_epochs=0"], "trainer.max_epochs must be"),
    "image too small for the model": (
        [*DIGITS, "tuner=random", "model=vit", "dataset.image_size=3"],
        "model=vit cannot train on dataset=digits at image size 3",
    ),
    "missing CIFAR-10": (
        ["objective=train", "tuner=random", "dataset.root=nowhere", "dataset.download=false"],
        "missing data_batch_1",
    ),
    "missing API key": (
        ["objective=toy", "tuner=llm", "llm=openai", "llm.api_key_env=LLMHPO_UNSET_KEY"],
        "needs an API key in the environment variable LLMHPO_UNSET_KEY",
    ),
    "unknown toy function": (["objective=toy", "objective.function=banana"], "banana"),
    "negative seed": (["objective=toy", "seed=-1"], "seed must be a whole number >= 0"),
    "tuner option of the wrong type": (
        ["objective=toy", "tuner=bo", "tuner.n_startup_trials=abc"],
        "tuner.n_startup_trials must be int, got 'abc'",
    ),
    "llm option of the wrong type": (
        ["objective=toy", "tuner=llm", "llm=local", "llm.temperature=hot"],
        "llm.temperature must be float, got 'hot'",
    ),
    # Hydra could not compose these: refused before it starts, naming the fix
    "pruner null": (
        ["objective=toy", "pruner=null"],
        "pruner=null is not an option of the pruner group: choose one of asha, hyperband, "
        "median, none",
    ),
    "unknown pruner key": (
        ["objective=toy", "pruner=asha", "pruner.bogus=3"],
        "pruner.bogus: pruner has no key 'bogus'; its keys are bootstrap_count,",
    ),
    "unknown tuner": (["objective=toy", "tuner=foo"], "Could not find 'tuner/foo'"),
    "unknown key in a sweep": (
        ["-m", "objective=toy", "tuner=random,bo", "tuner.samplr=gp"],
        "tuner.samplr: tuner has no key 'samplr'",
    ),
    "override without a value": (["objective=toy", "budget"], "Error parsing override 'budget'"),
    # values Optuna takes but fails every trial on
    "hyperband without resources": (
        ["objective=toy", "tuner=random", "pruner=hyperband", "pruner.max_resource=0"],
        "pruner.max_resource must be a whole number >= 1",
    ),
    "hyperband without reduction": (
        ["objective=toy", "tuner=random", "pruner=hyperband", "pruner.reduction_factor=1"],
        "pruner.reduction_factor must be a whole number >= 2",
    ),
}


def error_lines(result):
    return [line for line in result.stderr.splitlines() if line.strip()]


# The training objective's mistakes start torch and Lightning (8 s each): checked in-process
# by tests/test_train.py and test_data.py in the fast suite, through the CLI in the slow one.
TRAINING = ("no epochs", "image too small for the model", "missing CIFAR-10")


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in TRAINING else n for n in MISTAKES],
)
def test_a_config_mistake_is_one_line_and_exit_status_2(cli_split, tmp_path, name):
    args, message = MISTAKES[name]
    result = cli_split(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    (line,) = error_lines(result)
    assert line.startswith("llmhpo: error: ") and message in line
    assert not list(tmp_path.glob("outputs/*"))  # nothing ran, and no folder was claimed


def test_an_unreachable_llm_ends_the_study_in_one_line_and_keeps_the_trials(cli_split, tmp_path):
    closed = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    args = [
        "objective=toy",
        "tuner=llm",
        "llm=openai",
        "llm.model=openai/nothing",
        f"llm.api_base={closed}",
        "llm.api_key_env=null",
        "llm.max_retries=1",
        "llm.backoff=0.01",
        "llm.timeout=2",
    ]
    result = cli_split(*args)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    (line,) = error_lines(result)
    assert "did not answer after 2 tries" in line
    assert "Finished trials are saved; run the same command again to resume" in line
    (log_file,) = tmp_path.glob("outputs/*/run.log")
    assert "did not answer after 2 tries" in log_file.read_text()


def test_a_key_in_a_message_is_spelled_by_the_door_that_shows_it():
    from llmhpo.errors import ConfigError, Key, spoken_by

    error = ConfigError("set ", Key("tuner", "on_invalid", "random"), " or ", Key("llm", "seed", 3))
    assert str(error) == "set tuner.on_invalid=random or llm.seed=3"  # the CLI's, by default
    assert error.spelled("api") == "set on_invalid='random' or llm={..., 'seed': 3}"
    assert error.spelled("sweeper") == (
        "set hydra.sweeper.options.on_invalid=random or hydra.sweeper.llm.seed=3"
    )

    @spoken_by("api")
    def api_door():
        raise ConfigError(Key("tuner", "max_attempts"), " must be >= 1")

    @spoken_by("sweeper")
    def sweep_door():  # the sweeper drives the Python API: the outer door's spelling wins
        api_door()

    with pytest.raises(ConfigError, match=r"^max_attempts must be >= 1$"):
        api_door()
    with pytest.raises(ConfigError, match=r"^hydra\.sweeper\.options\.max_attempts must be"):
        sweep_door()
