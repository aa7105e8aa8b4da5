"""Checks that need a CUDA GPU (run with `pytest -m gpu` on a machine that has one)."""

import pytest
import torch

from llmhpo.objectives.train import TrainObjective
from llmhpo.space import CategoricalParam, FloatParam, SearchSpace
from llmhpo.store.trial_log import TrialLog
from llmhpo.study import StudyLoop
from llmhpo.tuners.base import Proposal
from llmhpo.tuners.random import RandomTuner
from tests.helpers.config import shipped_config
from tests.helpers.data import write_cifar_copy

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

GPU = {"accelerator": "gpu", "max_epochs": 1, "enable_progress_bar": False}
VIT = {**shipped_config("model", "vit"), "patch_size": 2}  # 256 tokens: room to run out of memory
CONFIG = {"optimizer": "adam", "learning_rate": 1e-3, "weight_decay": 1e-4, "label_smoothing": 0.1}


@pytest.fixture(scope="module")
def cifar_cfg(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    write_cifar_copy(root, per_batch=9000)  # CIFAR-10's size: 45,000 training images
    return shipped_config("dataset", "cifar10", root=str(root), download=False)


class ScriptedTuner(RandomTuner):
    """Proposes the listed configurations in order (a fixed plan, not a fake of anything)."""

    def __init__(self, space, configs):
        super().__init__(space, seed=0)
        self.configs = configs

    def ask(self):
        return Proposal(dict(self.configs[len(self.history)]))


def test_bf16_trial_on_the_gpu(cifar_cfg):
    objective = TrainObjective({"name": "resnet9", "channels_last": True}, cifar_cfg, GPU, seed=0)
    assert objective.precision == "bf16-mixed" and objective.device.type == "cuda"
    result = objective.evaluate(
        {**CONFIG, "optimizer": "sgd", "learning_rate": 0.05, "train_batch_size": 512}
    )
    assert 0 <= result.value <= 1 and result.metrics["images_per_second"] > 0  # speed: benchmarks


def test_out_of_memory_is_recorded_released_and_the_study_goes_on(cifar_cfg, tmp_path):
    space = SearchSpace(
        [
            CategoricalParam("optimizer", ("adam",)),
            FloatParam("learning_rate", 1e-4, 1e-2),
            CategoricalParam("train_batch_size", (256, 40000)),
        ]
    )
    plan = [{**CONFIG, "train_batch_size": 40000}, {**CONFIG, "train_batch_size": 256}]
    plan = [{k: c[k] for k in space.names} for c in plan]
    objective = TrainObjective(VIT, cifar_cfg, GPU, seed=0)
    baseline = torch.cuda.memory_allocated()
    StudyLoop(tmp_path, space, ScriptedTuner(space, plan), objective, budget=2).run()
    first, second = TrialLog(tmp_path / "trials.jsonl").read()
    assert first.status == "failed" and "CUDA out of memory" in first.error
    assert "TrialOutOfMemoryError" in first.error
    assert second.status == "ok"
    assert torch.cuda.memory_allocated() - baseline < 512 * 2**20


def test_divergence_is_caught_on_the_gpu_at_its_step(cifar_cfg, tmp_path):
    objective = TrainObjective({"name": "resnet9", "channels_last": True}, cifar_cfg, GPU, seed=0)
    with pytest.raises(Exception, match="loss diverged at step"):
        objective.evaluate(
            {**CONFIG, "optimizer": "sgd", "learning_rate": 1e30, "train_batch_size": 512}
        )
