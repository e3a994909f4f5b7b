"""gankit's Python API: your own networks and data through gankit.train, a run opened by gankit.load_run."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

import gankit
from gankit.errors import GankitError


class TinyG(nn.Module):
    """G(z) → 1×8×8 images in [−1, 1]."""

    def __init__(self, z_dim: int = 8):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(z_dim, 32), nn.ReLU(), nn.Linear(32, 64), nn.Tanh())

    def forward(self, z, y=None):
        return self.net(z).view(-1, 1, 8, 8)


class TinyD(nn.Module):
    """D(x) → logits [B]."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))

    def forward(self, x, y=None):
        return self.net(x).squeeze(1)


def nets(seed: int = 1) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    return TinyG(), TinyD()


def config(steps: int = 12, **extra):
    sets = {
        "train.steps": steps,
        "model.z_dim": 8,
        "data.resolution": "null",
        "train.batch_size": 16,
        "train.eval_features": "none",
        "train.sample_every": 0,
        "train.checkpoint_every": 6,
        "train.tensorboard": "false",
        "train.progress": "false",
        "train.ema_kimg": 0.1,
        **extra,
    }
    return gankit.load_config("digits", overrides=[f"{k}={v}" for k, v in sets.items()])


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(0)
    return torch.rand(200, 1, 8, 8, generator=g) * 2 - 1  # float images in [−1, 1]


def test_own_networks_on_a_tensordataset_train_load_sample_and_resume_exactly(images, tmp_path):
    whole = gankit.train(config(), *nets(), data=TensorDataset(images), run_dir=tmp_path / "whole")
    assert whole.step == 12
    half = gankit.train(config(), *nets(), data=TensorDataset(images), run_dir=tmp_path / "half", stop_after=6)
    assert half.stopped == "stop_after"
    # resumed from a DataLoader over the same data: gankit draws its own seeded batches from its dataset
    G, D = nets(seed=99)  # the checkpoint's weights replace whatever the modules held
    gankit.train(
        config(), G, D, data=DataLoader(TensorDataset(images), batch_size=50), run_dir=tmp_path / "half", resume=True
    )
    a, b = gankit.load_run(tmp_path / "whole", G=TinyG()), gankit.load_run(tmp_path / "half", G=TinyG(), D=TinyD())
    assert a.step == b.step == 12 and a.config.model.name == "custom"
    for k, v in a.G.state_dict().items():
        assert torch.equal(v, b.G.state_dict()[k]), k
    assert a.G_ema is not None and b.D is not None
    x = b.sample(5, seed=3)
    assert x.shape == (5, 1, 8, 8) and x.abs().max() <= 1 and torch.equal(x, a.sample(5, seed=3))


def test_a_resume_on_other_data_is_one_line(images, tmp_path):
    gankit.train(config(steps=6), *nets(), data=images, run_dir=tmp_path / "r")
    with pytest.raises(GankitError, match="trained on other data") as e:
        gankit.train(config(steps=12), *nets(), data=images[:100], run_dir=tmp_path / "r", resume=True)
    assert len(str(e.value).splitlines()) == 1


def test_a_run_of_own_networks_needs_them_to_open(images, tmp_path):
    gankit.train(config(steps=6), *nets(), data=images, run_dir=tmp_path / "r")
    with pytest.raises(GankitError, match="pass G="):
        gankit.load_run(tmp_path / "r")
    from gankit.runs import load_generator

    with pytest.raises(GankitError, match="came from Python"):
        load_generator(tmp_path / "r")


class Pairs(Dataset):
    """(image, label) pairs as a user's Dataset gives them: float [C, H, W] and an int."""

    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i], i % 3


def test_a_dataset_of_pairs_gives_labels_and_a_preset_network(images, tmp_path):
    cfg = config(
        steps=4,
        **{
            "model.name": "dcgan",
            "model.g_hidden": 8,
            "model.d_hidden": 8,
            "model.conditional": "true",
            "data.resolution": 16,
        },
    )
    gankit.train(cfg, data=Pairs(images), run_dir=tmp_path / "c")
    run = gankit.load_run(tmp_path / "c")
    assert run.num_classes == 3 and run.config.model.name == "dcgan"
    assert run.sample(6, classes=2).shape == (6, 1, 16, 16)
    with pytest.raises(GankitError, match="labels"):
        run.sample(2, classes=[0, 5])


@pytest.mark.parametrize(
    "data, message",
    [
        (torch.rand(50, 1, 8, 8), "looks like \\[0, 1\\]"),
        (torch.full((50, 1, 8, 8), 3.0), "must lie in \\[−1, 1\\]"),
        (torch.zeros(50, 1, 8, 8, dtype=torch.int32), "uint8 or float"),
        ([1, 2, 3], "expected an image tensor"),
    ],
)
def test_bad_data_is_one_line(data, message, tmp_path):
    with pytest.raises(GankitError, match=message) as e:
        gankit.train(config(steps=2), *nets(), data=data)
    assert len(str(e.value).splitlines()) == 1


def test_conditional_runs_and_the_classifier_need_labels(images):
    with pytest.raises(GankitError, match="model.conditional needs labelled data"):
        gankit.train(config(steps=2, **{"model.conditional": "true"}), *nets(), data=images)
    with pytest.raises(GankitError, match="these images have none"):
        gankit.train(config(steps=2, **{"train.eval_features": "classifier"}), *nets(), data=images)


def test_networks_come_in_pairs(images):
    with pytest.raises(GankitError, match="both G and D"):
        gankit.train(config(steps=2), G=TinyG(), data=images)
    with pytest.raises(GankitError, match="torch.nn.Module"):
        gankit.train(config(steps=2), G=TinyG(), D=lambda x: x, data=images)
