import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data import DATASETS, load_dataset, resize_uint8, to_model_range, to_uint8
from gankit.errors import GankitError


def test_digits_are_the_real_sklearn_digits():
    d = load_dataset("digits")
    assert d.images.shape == (1797, 1, 8, 8) and d.images.dtype == torch.uint8
    assert d.images.max() == 255 and d.images.min() == 0
    assert d.num_classes == 10 and sorted(d.labels.unique().tolist()) == list(range(10))
    assert load_dataset("digits", resolution=16).images.shape == (1797, 1, 16, 16)


def test_scaling_round_trips():
    x = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    f = to_model_range(x)
    assert f.min() == -1 and f.max() == 1
    assert torch.equal(to_uint8(f), x)


def write_png(img, path):
    """Write a uint8 tensor [C, H, W] (C = 1 or 3) as a PNG."""
    a = img.permute(1, 2, 0).numpy()
    Image.fromarray(a[:, :, 0] if a.shape[2] == 1 else a).save(path)


def _write_idx(path, array):
    # IDX: magic (0, 0, dtype 0x08 = ubyte, number of dims), the dims as big-endian int32, the bytes.
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 8, array.ndim]))
        f.write(np.array(array.shape, dtype=">i4").tobytes())
        f.write(array.astype(np.uint8).tobytes())


def test_mnist_reads_idx_files_from_root(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    imgs, labels = rng.integers(0, 256, (5, 28, 28)), np.array([3, 1, 4, 1, 5])
    for split in ("train", "t10k"):
        _write_idx(raw / f"{split}-images-idx3-ubyte", imgs)
        _write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
    d = load_dataset("mnist", root=str(tmp_path))
    assert d.images.shape == (5, 1, 28, 28)
    assert torch.equal(d.images[:, 0], torch.as_tensor(imgs, dtype=torch.uint8))
    assert d.labels.tolist() == [3, 1, 4, 1, 5] and d.num_classes == 10


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10"])
def test_missing_dataset_is_one_line_saying_where(name, tmp_path):
    with pytest.raises(GankitError, match=f"{name} not found under {tmp_path}.*data.download=true") as e:
        load_dataset(name, root=str(tmp_path))
    assert "\n" not in str(e.value)


def test_imagefolder(tmp_path):
    torch.manual_seed(0)
    for k, cls in enumerate(["cat", "dog"]):
        (tmp_path / cls).mkdir()
        for i in range(3):
            write_png(torch.randint(0, 256, (3, 12, 12), dtype=torch.uint8), str(tmp_path / cls / f"{i}.png"))
    d = load_dataset("imagefolder", root=str(tmp_path), resolution=8)
    assert d.images.shape == (6, 3, 8, 8) and d.labels.tolist() == [0, 0, 0, 1, 1, 1] and d.num_classes == 2
    write_png(torch.zeros(3, 10, 10, dtype=torch.uint8), str(tmp_path / "cat" / "odd.png"))
    with pytest.raises(GankitError, match="differ in size"):
        load_dataset("imagefolder", root=str(tmp_path))
    with pytest.raises(GankitError, match="data.root must be a folder"):
        load_dataset("imagefolder", root=str(tmp_path / "nope"))


def test_grey_imagefolder_stays_one_channel(tmp_path):
    (tmp_path / "a").mkdir()
    for i in range(2):
        write_png(torch.randint(0, 256, (1, 8, 8), dtype=torch.uint8), str(tmp_path / "a" / f"{i}.png"))
    assert load_dataset("imagefolder", root=str(tmp_path)).images.shape == (2, 1, 8, 8)


def test_resize_keeps_uint8_and_registry_lists_names():
    assert resize_uint8(torch.zeros(2, 1, 8, 8, dtype=torch.uint8), 32).dtype == torch.uint8
    assert {"digits", "mnist", "fashion_mnist", "cifar10", "imagefolder"} <= set(DATASETS.names())
