"""What a config builds (gankit.build): the device, the data and its spec, fresh networks seeded by train.seed."""

import pytest
import torch

from gankit.build import build_run, data_spec, load_data, resolve_device
from gankit.config import load_config
from gankit.data import ImageData
from gankit.distributions import GaussianMixture
from gankit.errors import GankitError

QUIET = ["train.progress=false", "train.tensorboard=false"]
TINY_IMAGES = ["model.g_hidden=8", "model.d_hidden=8", *QUIET]


def _state(m):
    return {k: v.clone() for k, v in m.state_dict().items()}


def _equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _images(n=12, shape=(3, 16, 16), classes=4):
    return ImageData(
        torch.randint(0, 256, (n, *shape), dtype=torch.uint8), torch.arange(n) % classes, classes, "toyimg"
    )


def test_cuda_without_a_gpu_is_one_line_and_auto_falls_back_to_the_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(GankitError, match="train.device=cuda but no CUDA GPU is available") as e:
        resolve_device("cuda")
    assert "\n" not in str(e.value)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")


def test_auto_is_cuda_when_there_is_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda") == torch.device("cuda")  # only named here: nothing is allocated


def test_build_run_is_seeded_by_train_seed_whatever_the_global_rng():
    cfg = load_config("ring8", overrides=["model.g_hidden=8", "model.d_hidden=8", *QUIET])
    torch.manual_seed(1)
    _, G1, D1 = build_run(cfg, torch.device("cpu"))
    torch.manual_seed(2)
    torch.rand(100)
    _, G2, D2 = build_run(cfg, torch.device("cpu"))
    assert _equal(_state(G1), _state(G2)) and _equal(_state(D1), _state(D2))
    other = load_config("ring8", overrides=["model.g_hidden=8", "model.d_hidden=8", "train.seed=1", *QUIET])
    _, G3, D3 = build_run(other, torch.device("cpu"))
    assert not _equal(_state(G1), _state(G3)) and not _equal(_state(D1), _state(D3))


def test_build_run_builds_networks_for_the_data_it_is_given():
    cfg = load_config("digits", overrides=[*TINY_IMAGES, "model.conditional=true"])
    data = _images(shape=(3, 16, 16), classes=4)
    got, G, D = build_run(cfg, torch.device("cpu"), data=data)
    assert got is data  # not loaded again
    y = torch.arange(5) % 4
    x = G(torch.randn(5, cfg.model.z_dim), y)
    assert x.shape == (5, 3, 16, 16)
    assert D(x, y).shape == (5,)


@pytest.mark.parametrize("preset, dim", [("ring8", 2), ("gauss1d", 1), ("grid25", 2)])
def test_a_toy_target_is_one_point_and_unconditional(preset, dim):
    cfg = load_config(preset, overrides=QUIET)
    target = load_data(cfg)
    assert isinstance(target, GaussianMixture)
    assert data_spec(target, cfg) == ((dim,), 0)


def test_an_image_dataset_conditions_only_when_the_model_does():
    data = _images(shape=(1, 8, 8), classes=3)
    assert data_spec(data, load_config("digits", overrides=QUIET)) == ((1, 8, 8), 0)
    assert data_spec(data, load_config("digits", overrides=[*QUIET, "model.conditional=true"])) == ((1, 8, 8), 3)


def test_the_digits_preset_loads_its_images_at_the_configured_resolution():
    cfg = load_config("digits", overrides=[*QUIET, "data.resolution=8", "model.conditional=true"])
    data = load_data(cfg)
    assert isinstance(data, ImageData) and data.images.dtype == torch.uint8
    assert data_spec(data, cfg) == ((1, 8, 8), 10)  # scikit-learn's 8×8 digits, ten classes


@pytest.mark.parametrize(
    "preset,shape", [("cifar10-biggan", (3, 32, 32)), ("digits-biggan", (1, 32, 32)), ("cifar10-r3gan", (3, 32, 32))]
)
def test_the_biggan_and_r3gan_presets_build_conditional_networks_for_their_images(preset, shape):
    from gankit.nets import build_nets

    cfg = load_config(preset)
    assert cfg.model.conditional and cfg.objective.name in ("hinge", "rpgan")
    G, D = build_nets(cfg.model, shape, 10)
    z, y = torch.randn(2, cfg.model.z_dim), torch.tensor([0, 9])
    x = G(z, y)
    assert x.shape == (2, *shape) and D(x, y).shape == (2,)


def test_the_stacked_mnist_preset_is_unconditional_rpgan_on_the_papers_protocol():
    """The modes must be found, not given as labels; measured on the papers' 26,000 samples."""
    from gankit.nets import build_nets

    cfg = load_config("stacked-mnist")
    assert cfg.data.name == "stacked_mnist" and not cfg.model.conditional
    assert cfg.objective.name == "rpgan" and cfg.objective.r1_gamma > 0
    assert cfg.train.eval_samples == 26000 and cfg.train.eval_features == "classifier"
    G, D = build_nets(cfg.model, (3, 28, 28), 0)
    x = G(torch.randn(2, cfg.model.z_dim), None)
    assert x.shape == (2, 3, 28, 28) and D(x, None).shape == (2,)
