import pytest
import torch

from llmhpo.training.models import ArchitectureError, build_model, model_settings
from llmhpo.training.models.resnet9 import ResNet9
from llmhpo.training.models.vit import ViT
from tests.helpers.config import shipped_config

VIT_CFG = shipped_config("model", "vit")
SMALL_VIT = {**VIT_CFG, "dim": 64, "depth": 2, "heads": 4, "mlp_dim": 128}


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_resnet9_has_the_reference_parameter_count():
    assert n_params(ResNet9(channels=3, num_classes=10)) == 2_274_880


@pytest.mark.parametrize("size", [16, 32])
def test_resnet9_forward_shape(size):
    model = ResNet9(num_classes=10, image_size=size).eval()
    assert model(torch.randn(2, 3, size, size)).shape == (2, 10)


@pytest.mark.parametrize("size", [16, 32])
def test_vit_forward_shape(size):
    model = build_model(SMALL_VIT, {}, channels=3, image_size=size, num_classes=10).eval()
    assert model(torch.randn(2, 3, size, size)).shape == (2, 10)


def test_reference_vit_dimensions():
    model = ViT(image_size=32, num_classes=10)
    assert len(model.layers) == 6
    assert model.pos_embedding.shape == (1, 65, 512)  # 8 x 8 patches of 4 pixels + class token
    assert model.layers[0][1][1].out_features == 512  # mlp_dim


def test_patchify_matches_einops_layout():
    model = ViT(image_size=4, patch_size=2, dim=8, depth=1, heads=2, mlp_dim=8, channels=2)
    image = torch.arange(2 * 4 * 4, dtype=torch.float32).reshape(1, 2, 4, 4)
    patches = model.patchify(image)
    assert patches.shape == (1, 4, 8)
    # first patch: rows 0-1, cols 0-1, channel fastest: (p1 p2 c)
    expected = [image[0, c, r, q].item() for r in range(2) for q in range(2) for c in range(2)]
    assert patches[0, 0].tolist() == expected


def test_trial_architecture_keys_override_the_model_config():
    settings = model_settings(VIT_CFG, {"dim": 128, "heads": 16, "learning_rate": 0.1})
    assert settings["dim"] == 128 and settings["heads"] == 16 and "learning_rate" not in settings
    model = build_model(
        VIT_CFG, {"dim": 128, "depth": 4, "heads": 16}, channels=3, image_size=32, num_classes=10
    )
    assert len(model.layers) == 4 and model.head.in_features == 128


@pytest.mark.parametrize(
    "config,message",
    [
        ({"heads": 3, "dim": 64}, "heads 3 does not divide dim 64"),
        ({"patch_size": 5}, "patch_size 5 does not divide the image size 32"),
        ({"depth": 0}, "depth must be >= 1"),
    ],
)
def test_impossible_vit_is_reported_before_building(config, message):
    with pytest.raises(ArchitectureError, match=message):
        build_model(SMALL_VIT, config, channels=3, image_size=32, num_classes=10)


def test_unknown_model_is_named():
    with pytest.raises(ArchitectureError, match="unknown model 'resnet50'"):
        build_model({"name": "resnet50"}, {}, channels=3, image_size=32, num_classes=10)
