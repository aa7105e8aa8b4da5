"""Reading LLM answers (a corpus of real-world mistakes) and building the paper's prompts."""

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from llmhpo.objectives.toy import ToyObjective
from llmhpo.objectives.train import training_task
from llmhpo.space import InvalidConfigError, SearchSpace
from llmhpo.store.trial_log import TrialRecord
from llmhpo.tuners.llm.answers import AnswerParseError, read_config
from llmhpo.tuners.llm.prompts import PromptBuilder, PromptSettings
from tests.helpers.config import compose_config

CORPUS = json.loads((Path(__file__).parent / "data" / "bad_answers.json").read_text())


def answer_text(case: dict) -> str:
    """A case's answer: a string, or a list of parts, each a string or [string, repeat count]
    (for answers too long or too deep to write out)."""
    if isinstance(case["answer"], str):
        return case["answer"]
    return "".join(part if isinstance(part, str) else part[0] * part[1] for part in case["answer"])


@pytest.fixture(scope="module")
def space():
    cfg = compose_config(["search_space=constrained"])
    return SearchSpace.from_config(OmegaConf.to_container(cfg.search_space, resolve=True))


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 25
    assert sum("message" in case for case in CORPUS) >= 15


@pytest.mark.parametrize("case", CORPUS, ids=[case["name"] for case in CORPUS])
def test_each_answer_gives_the_config_or_a_precise_message(space, case):
    def read():
        return read_config(answer_text(case), space)

    if "config" in case:
        assert read() == case["config"]
    else:
        with pytest.raises((AnswerParseError, InvalidConfigError)) as caught:
            read()
        assert case["message"] in str(caught.value)


def record(round_, config, best, **metrics):
    return TrialRecord(
        round_, "ok", config, value=best, metrics=metrics, tuner={"answer": json.dumps(config)}
    )


TRAIN_TASK = training_task(
    {"description": "a ResNet-9"}, {"description": "CIFAR-10 classification"}
)


def test_compressed_prompt_follows_the_reference(space):
    builder = PromptBuilder(PromptSettings(), space, TRAIN_TASK, budget=10)
    config = {
        "optimizer": "sgd",
        "learning_rate": 0.01,
        "train_batch_size": 512,
        "weight_decay": 1e-4,
        "label_smoothing": 0.0,
    }
    history = [record(0, config, 0.1234, val_error=0.1234, val_loss=0.45678)]
    (system, user) = builder.messages(history)
    assert system == {"role": "system", "content": "You are a machine learning expert."}
    text = user["content"]
    assert text.startswith(
        "You are helping tune hyperparameters for a ResNet-9 trained for CIFAR-10 "
        "classification. This is our hyperparameter search space:\n{\n"
    )
    assert '    "optimizer": must be ["adam", "sgd"],' in text
    assert '    "learning_rate": between 0.0001 and 0.1,' in text
    assert '    "train_batch_size": 32, 64, 128, 256, 512,' in text
    assert '"train_batch_size": c' in text and "training batch size" not in text
    assert "This is what has been done so far:\n" in text
    assert f"Config 1: {json.dumps(config)} Error Rate: 1.2340e-01, Loss: 4.5678e-01\n" in text
    assert text.endswith("Provide a config in the same JSON format.")


def test_compressed_prompt_reports_the_last_error(space):
    builder = PromptBuilder(PromptSettings(), space, TRAIN_TASK, budget=10)
    failed = TrialRecord(
        0,
        "failed",
        {
            "optimizer": "sgd",
            "learning_rate": 0.1,
            "train_batch_size": 32,
            "weight_decay": 0.1,
            "label_smoothing": 0.0,
        },
        error="TrialDivergedError: loss diverged at step 3",
    )
    text = builder.messages([failed])[1]["content"]
    assert (
        "Config 1: " in text
        and "Training failed: TrialDivergedError: loss diverged at step 3" in text
    )
    assert (
        "We got the following error message with the previous proposal: TrialDivergedError: "
        "loss diverged at step 3\n"
    ) in text


def test_unconstrained_space_wording():
    cfg = compose_config(["search_space=unconstrained"])
    space = SearchSpace.from_config(OmegaConf.to_container(cfg.search_space, resolve=True))
    text = PromptBuilder(PromptSettings(), space, TRAIN_TASK, 10).compressed_intro()
    assert '"learning_rate": positive float' in text
    assert '"train_batch_size": positive integer' in text
    assert '"weight_decay": nonnegative float' in text


def test_chat_prompt_is_the_papers_toy_prompt():
    objective = ToyObjective("branin")
    builder = PromptBuilder(
        PromptSettings(format="chat", digits=3), objective.search_space, objective.task, 10
    )
    history = [record(0, {"x1": 0.0, "x2": 10.0}, 35.6, value=35.6)]
    messages = builder.messages(history)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"] == (
        "You are optimizing a function with two inputs. x1 must be in range (-5, 10). x2 must be in "
        "range (0, 15). I want you to predict values that minimize the loss of the function; I will tell "
        "you the value of the function before you try again. Do not put new lines or extra characters in "
        "your response. We have a total of 10 evaluations. Format your output with json as follows: "
        '{"x1": x1, "x2": x2}\n'
    )
    assert messages[2]["content"] == '{"x1": 0.0, "x2": 10.0}'
    assert messages[3]["content"] == "Loss: 3.560e+01. Format your next output as before."


def test_chain_of_thought_asks_for_analysis_then_output():
    objective = ToyObjective("branin")
    builder = PromptBuilder(
        PromptSettings(format="chat", cot=True), objective.search_space, objective.task, 10
    )
    messages = builder.messages([record(0, {"x1": 0.0, "x2": 10.0}, 35.6, value=35.6)])
    assert messages[-1]["content"].endswith(
        "Write two lines as follows:\nAnalysis:(up to a few sentences describing what worked so far and "
        "what to choose next)\nOutput:{json dict}"
    )


def test_retry_in_chat_shows_the_rejected_answer_and_reason():
    objective = ToyObjective("branin")
    builder = PromptBuilder(
        PromptSettings(format="chat"), objective.search_space, objective.task, 10
    )
    messages = builder.retry([], [('{"x1": 99}', "missing key 'x2'")])
    assert messages[-2] == {"role": "assistant", "content": '{"x1": 99}'}
    assert messages[-1]["content"].startswith("missing key 'x2'. ")


def test_task_description_override(space):
    builder = PromptBuilder(
        PromptSettings(task_description="a GPT-2 language model"), space, TRAIN_TASK, 10
    )
    assert builder.compressed_intro().startswith(
        "You are helping tune hyperparameters for a GPT-2 language model."
    )
