"""Real Lightning training at tiny sizes, through the study loop and the CLI."""

import json

import lightning as L
import pytest
import torch

from llmhpo.errors import ConfigError
from llmhpo.objectives.train import TrainObjective, build_trainer
from llmhpo.pruning import make_pruner
from llmhpo.space import CategoricalParam, FloatParam, SearchSpace
from llmhpo.study import StudyLoop
from llmhpo.tuners.random import RandomTuner
from tests.helpers.config import shipped_config
from tests.helpers.data import DIGITS_CFG, write_cifar_copy
from tests.helpers.runs import trial_lines

RESNET = shipped_config("model", "resnet9")
SMALL_VIT = {**shipped_config("model", "vit"), "dim": 64, "depth": 2, "heads": 4, "mlp_dim": 128}
TRAINER = shipped_config(
    "trainer", "default", accelerator="cpu", max_epochs=1, enable_progress_bar=False
)
CONFIG = {
    "optimizer": "sgd",
    "learning_rate": 0.05,
    "train_batch_size": 128,
    "weight_decay": 5e-4,
    "label_smoothing": 0.1,
}


def summary_of(tmp_path):
    (summary,) = tmp_path.glob("outputs/*/summary.json")
    return json.loads(summary.read_text()), summary.parent


@pytest.mark.parametrize(
    "model,shrink",
    [
        ("resnet9", ["+trainer.limit_train_batches=4"]),
        pytest.param("vit", ["model.depth=2", "model.dim=128"], marks=pytest.mark.slow),
    ],
)
def test_cli_trains_two_trials_and_tests_the_best(cli, tmp_path, model, shrink):
    result = cli(
        "objective=train",
        "dataset=digits",
        f"model={model}",
        "tuner=random",
        "budget=2",
        "trainer.max_epochs=1",
        *shrink,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    summary, folder = summary_of(tmp_path)
    lines = trial_lines(folder)
    assert [line["status"] for line in lines] == ["ok", "ok"]
    assert all(0 <= line["metrics"]["val_error"] <= 1 for line in lines)
    assert all("test_error" not in line["metrics"] for line in lines)  # tuning never sees test
    assert 0 <= summary["test"]["test_error"] <= 1 and summary["test"]["test_loss"] > 0
    assert folder.name.startswith(f"train-{model}-digits_random_seed0_")


@pytest.mark.slow
def test_same_config_and_seed_give_the_same_result_on_cpu():
    results = [
        TrainObjective(RESNET, DIGITS_CFG, TRAINER, seed=3).evaluate(CONFIG) for _ in range(2)
    ]
    assert results[0].value == results[1].value
    assert results[0].metrics["val_loss"] == results[1].metrics["val_loss"]
    other_seed = TrainObjective(RESNET, DIGITS_CFG, TRAINER, seed=4).evaluate(CONFIG)
    assert other_seed.metrics["val_loss"] != results[0].metrics["val_loss"]


class EndOfTraining(L.Callback):
    """Records what Lightning counted and where the schedule ended."""

    def on_train_end(self, trainer, module):
        self.global_step = trainer.global_step
        self.batches_per_epoch = len(module.batches)
        self.final_lr = trainer.optimizers[0].param_groups[0]["lr"]


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_grouping_batches_per_call_changes_nothing_but_speed(precision):
    """Same steps, same schedule, same numbers, whether Lightning gets 1 or 3 batches a call.

    Under bf16-mixed (a GPU's default, run here on the CPU's autocast) every step of a
    group must see the weights the step before it wrote, not autocast's cached copy.
    """
    trainer = {**TRAINER, "max_epochs": 5, "precision": precision}  # 5 epochs: 1 of warm-up
    config = {**CONFIG, "train_batch_size": 256}  # 4 batches an epoch: groups of 3 and 1
    runs = {}
    for per_call in (1, 3):
        ended = EndOfTraining()
        objective = TrainObjective(
            RESNET,
            DIGITS_CFG,
            {**trainer, "batches_per_call": per_call},
            seed=0,
            callbacks=[ended],
        )
        runs[per_call] = objective.evaluate(config), ended
    for _, ended in runs.values():
        assert ended.batches_per_epoch == 4
        assert ended.global_step == 5 * 4  # every optimizer step counted
        assert ended.final_lr == 0.0  # the decay ends at the last step
    assert runs[1][0].metrics["val_loss"] == runs[3][0].metrics["val_loss"]
    assert runs[1][0].metrics["train_loss"] == runs[3][0].metrics["train_loss"]


def test_batches_per_call_below_one_is_refused_before_any_trial():
    with pytest.raises(ConfigError, match="trainer.batches_per_call must be a whole number >= 1"):
        TrainObjective(RESNET, DIGITS_CFG, {**TRAINER, "batches_per_call": 0})


def test_trainer_keys_reach_the_trainer_and_unknown_ones_are_refused():
    trainer = build_trainer(
        {**TRAINER, "log_every_n_steps": 7}, torch.device("cpu"), "32-true", 1, []
    )
    assert trainer.log_every_n_steps == 7 and trainer.max_epochs == 1
    with pytest.raises(ConfigError, match="trainer.max_epoch is not a setting"):
        TrainObjective(RESNET, DIGITS_CFG, {**TRAINER, "max_epoch": 3})


def test_zero_epochs_are_refused_before_any_trial():
    with pytest.raises(ConfigError, match="trainer.max_epochs must be a whole number >= 1"):
        TrainObjective(RESNET, DIGITS_CFG, {**TRAINER, "max_epochs": 0})


@pytest.mark.slow
def test_training_learns_something():
    trainer = {**TRAINER, "max_epochs": 3}
    result = TrainObjective(RESNET, DIGITS_CFG, trainer, seed=0).evaluate(
        {**CONFIG, "train_batch_size": 64}
    )
    assert result.value < 0.3  # chance is 0.9


def test_diverging_trial_fails_and_the_study_goes_on(tmp_path):
    space = SearchSpace(
        [
            CategoricalParam("optimizer", ("sgd",)),
            FloatParam("learning_rate", 1e25, 1e30, log=True),
            CategoricalParam("train_batch_size", (256,)),
        ]
    )
    objective = TrainObjective(RESNET, DIGITS_CFG, TRAINER, seed=0)
    summary = StudyLoop(tmp_path, space, RandomTuner(space, seed=0), objective, budget=2).run()
    lines = trial_lines(tmp_path)
    assert [line["status"] for line in lines] == ["failed", "failed"]
    assert "TrialDivergedError: loss diverged at step" in lines[0]["error"]
    assert summary["status_counts"]["failed"] == 2 and summary["best_config"] is None


def test_an_impossible_model_config_is_refused_before_any_trial():
    with pytest.raises(ConfigError, match="model=vit cannot train on dataset=digits at image size"):
        TrainObjective({**SMALL_VIT, "heads": 3}, DIGITS_CFG, TRAINER, seed=0)


def test_an_impossible_tuned_architecture_fails_its_trial_before_training(tmp_path):
    objective = TrainObjective(SMALL_VIT, DIGITS_CFG, TRAINER, seed=0)
    space = SearchSpace(
        [
            CategoricalParam("optimizer", ("adam",)),
            FloatParam("learning_rate", 1e-3, 1e-2),
            CategoricalParam("heads", (3,)),
        ]
    )
    StudyLoop(tmp_path, space, RandomTuner(space, seed=0), objective, budget=1).run()
    (line,) = trial_lines(tmp_path)
    assert line["status"] == "failed"
    assert line["error"] == "ArchitectureError: vit: heads 3 does not divide dim 64"
    assert line["metrics"] == {}  # refused when the model was built: no step, no metric


def test_vit_arch_keys_reach_the_model():
    config = {
        **CONFIG,
        "patch_size": 8,
        "dim": 32,
        "depth": 1,
        "heads": 2,
        "mlp_dim": 64,
        "dropout": 0.0,
        "emb_dropout": 0.0,
    }
    result = TrainObjective(SMALL_VIT, DIGITS_CFG, TRAINER, seed=0).evaluate(config)
    assert result.metrics["model_settings"]["dim"] == 32
    small = TrainObjective(SMALL_VIT, DIGITS_CFG, TRAINER, seed=0).evaluate(CONFIG)
    assert result.metrics["params"] < small.metrics["params"]


def test_eval_test_measures_test_per_trial(tmp_path):
    objective = TrainObjective(RESNET, DIGITS_CFG, TRAINER, seed=0, eval_test=True)
    result = objective.evaluate(CONFIG)
    assert {"test_error", "test_loss", "test_accuracy"} <= set(result.metrics)
    assert result.metrics["test_accuracy"] == pytest.approx(1 - result.metrics["test_error"])


def test_cifar10_trial_on_a_local_copy(tmp_path):
    write_cifar_copy(tmp_path, per_batch=16)
    dataset = shipped_config("dataset", "cifar10", root=str(tmp_path), download=False, val_size=16)
    result = TrainObjective(RESNET, dataset, TRAINER, seed=0).evaluate(
        {**CONFIG, "train_batch_size": 32}
    )
    assert 0 <= result.value <= 1
    assert result.metrics["params"] == 2_274_880


@pytest.mark.slow
def test_cifar10_missing_offline_fails_before_training(cli, tmp_path):
    result = cli(
        "objective=train",
        "dataset=cifar10",
        f"dataset.root={tmp_path / 'none'}",
        "dataset.download=false",
        "budget=1",
    )
    assert result.returncode != 0
    assert f"CIFAR-10 is not in {tmp_path / 'none' / 'cifar-10-batches-py'}" in result.stdout
    assert not list(tmp_path.glob("outputs/*/trials.jsonl"))


def test_each_epochs_validation_error_is_the_curve_a_pruner_judges(tmp_path):
    space = SearchSpace(
        [
            CategoricalParam("optimizer", ("sgd", "adam")),
            FloatParam("learning_rate", 1e-4, 1e-1, log=True),
            CategoricalParam("train_batch_size", (512,)),
        ]
    )
    objective = TrainObjective(RESNET, DIGITS_CFG, {**TRAINER, "max_epochs": 2}, seed=0)
    objective.test = None  # testing the best (a retraining) is another test's
    pruner = make_pruner({"name": "asha", "_target_": "optuna.pruners.SuccessiveHalvingPruner",
                          "min_resource": 1, "reduction_factor": 2})  # fmt: skip
    tuner = RandomTuner(space, seed=0)
    StudyLoop(tmp_path, space, tuner, objective, budget=2, pruner=pruner).run()
    for line in trial_lines(tmp_path):
        steps = [step for step, _ in line["curve"]]
        assert steps == ([1, 2] if line["status"] == "ok" else [1])
        assert line["value"] == line["curve"][-1][1]  # the last epoch's error is the value
        if line["status"] == "ok":
            assert line["metrics"]["val_error"] == line["value"]
        else:
            assert line["status"] == "pruned" and line["error"] == "pruned at step 1"
            assert line["metrics"] == {"val_error": line["value"]}


@pytest.mark.slow
@pytest.mark.parametrize("pruner", ["median", "asha", "hyperband"])
@pytest.mark.parametrize("tuner", ["random", "bo", "smac", "llm", "hybrid"])
def test_every_pruner_with_every_tuner_trains(cli, tmp_path, tuner, pruner):
    llm = ["llm=local"] if tuner in ("llm", "hybrid") else []
    result = cli(
        "objective=train", "dataset=digits", f"tuner={tuner}", *llm, f"pruner={pruner}",
        "pruner.n_startup_trials=1" if pruner == "median" else "pruner.min_resource=1",
        "budget=4", "trainer.max_epochs=2", timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    summary, folder = summary_of(tmp_path)
    assert summary["trials"] == 4 and summary["status_counts"]["failed"] == 0
    for line in trial_lines(folder):
        assert line["value"] == line["curve"][-1][1]
        assert len(line["curve"]) == 2 or line["status"] == "pruned"
