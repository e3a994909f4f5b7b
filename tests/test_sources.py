"""Data as users bring it (gankit.sources): tensors and Datasets in memory, and data streamed through a
DataLoader (data.in_memory=false) that resumes exactly."""

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import TensorDataset

from gankit.config import load_config
from gankit.data import ImageData
from gankit.errors import GankitError
from gankit.sources import StreamData, as_training_data, draw_indices, image_tensor, open_stream
from gankit.training import train
from helpers import write_image_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """An image folder: 2 classes of 12 RGB 8×8 PNGs each."""
    root = tmp_path_factory.mktemp("folder")
    write_image_folder(root, ("a", "b"), 12, 8)
    return root


def stream_config(folder, steps: int, **extra):
    sets = {
        "data.name": "imagefolder",
        "data.root": str(folder),
        "data.resolution": 16,
        "data.in_memory": "false",
        "data.workers": 1,
        "data.hflip": "true",
        "model.name": "dcgan",
        "model.g_hidden": 8,
        "model.d_hidden": 8,
        "model.z_dim": 8,
        "train.steps": steps,
        "train.batch_size": 8,
        "train.d_steps": 2,
        "train.eval_features": "none",
        "train.sample_every": 0,
        "train.checkpoint_every": steps,
        "train.tensorboard": "false",
        "train.progress": "false",
        **extra,
    }
    return load_config("digits", overrides=[f"{k}={v}" for k, v in sets.items()])


def test_draws_are_a_function_of_seed_and_draw_number():
    a, b = draw_indices(100, 32, seed=5, draw=7), draw_indices(100, 32, seed=5, draw=7)
    assert torch.equal(a, b) and a.min() >= 0 and a.max() < 100
    assert not torch.equal(a, draw_indices(100, 32, seed=5, draw=8))
    assert not torch.equal(a, draw_indices(100, 32, seed=6, draw=7))


def test_a_streamed_folder_gives_the_drawn_files_decoded(folder):
    stream = open_stream("imagefolder", str(folder), False, None, False, 1)
    assert isinstance(stream, StreamData) and stream.shape == (3, 8, 8) and stream.num_classes == 2
    batches = stream.batches(6, seed=3, first=4, rows=slice(2, 5), pin=False)
    x, y = next(batches)
    idx = draw_indices(24, 6, seed=3, draw=4)[2:5]
    files = sorted(folder.glob("*/*.png"))
    want = torch.stack([torch.from_numpy(np.array(Image.open(files[i]))).permute(2, 0, 1) for i in idx])
    assert torch.equal(x, want) and torch.equal(y, (idx >= 12).long())


def test_in_memory_auto_keeps_a_small_folder_in_memory(folder):
    assert open_stream("imagefolder", str(folder), False, None, "auto", None) is None


def test_a_streamed_folder_trains_and_resumes_bit_identically(folder, tmp_path):
    whole = train(stream_config(folder, 6), tmp_path / "whole")
    assert isinstance(whole.target, StreamData)
    train(stream_config(folder, 6), tmp_path / "half", stop_after=3)
    resumed = train(stream_config(folder, 6), tmp_path / "half", resume=True)
    for k, v in whole.G.state_dict().items():
        assert torch.equal(v, resumed.G.state_dict()[k]), k


def test_a_broken_image_in_a_streamed_folder_is_one_line(folder, tmp_path):
    import shutil

    root = tmp_path / "broken"
    shutil.copytree(folder, root)
    (root / "a" / "03.png").write_bytes(b"not a png")
    stream = open_stream("imagefolder", str(root), False, None, False, 1)
    batches = stream.batches(24 * 4, seed=0, first=0, rows=slice(0, 96), pin=False)  # draws every file
    with pytest.raises(GankitError, match="cannot read image .*03.png") as e:
        next(batches)
    assert len(str(e.value).splitlines()) == 1


def test_user_data_in_memory_or_streamed():
    x = torch.randint(0, 256, (40, 3, 8, 8), dtype=torch.uint8)
    y = torch.arange(40) % 4
    held = as_training_data(TensorDataset(x, y))
    assert isinstance(held, ImageData) and torch.equal(held.images, x) and held.num_classes == 4
    streamed = as_training_data(TensorDataset(x, y), in_memory=False, workers=0)
    assert isinstance(streamed, StreamData) and streamed.shape == (3, 8, 8)
    xb, yb = next(streamed.batches(5, seed=0, first=0, rows=slice(0, 5), pin=False))
    idx = draw_indices(40, 5, seed=0, draw=0)
    assert torch.equal(xb, x[idx]) and torch.equal(yb, y[idx])


def test_float_images_are_quantised_to_uint8():
    x = torch.tensor([-1.0, 0.0, 1.0]).view(1, 1, 1, 3).expand(1, 1, 40, 3).contiguous()
    assert image_tensor(x, "t").unique().tolist() == [0, 128, 255]


def test_gankit_eval_reads_a_streamed_run_as_training_did(folder, tmp_path):
    """gankit eval opens a streamed run's data as training read it: the files' fingerprint (which the
    checkpoint holds) and a seeded subset of the images in memory."""
    from gankit.checkpoint import load_checkpoint
    from gankit.config import read_config
    from gankit.runs import _training_data

    train(stream_config(folder, 2), tmp_path / "r")
    where = tmp_path / "r" / "checkpoints" / "last.pt"
    data = _training_data(read_config(tmp_path / "r" / "config.yaml"), load_checkpoint(where), where)
    assert isinstance(data, ImageData) and data.images.shape == (24, 3, 16, 16) and data.num_classes == 2
