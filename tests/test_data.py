import functools
import io
import os
import struct
import warnings
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data import DATASETS, fingerprint, load_dataset, resize_uint8, to_model_range, to_uint8
from gankit.errors import GankitError
from helpers import write_idx


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


def test_mnist_reads_idx_files_from_root(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    imgs, labels = rng.integers(0, 256, (5, 28, 28)), np.array([3, 1, 4, 1, 5])
    for split in ("train", "t10k"):
        write_idx(raw / f"{split}-images-idx3-ubyte", imgs)
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
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


# --- hostile inputs: each must end as one GankitError line naming the file or the dataset ---------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    """A PNG chunk: length, type, data and the CRC PIL checks."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _header_only_png(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width × height but whose IDAT holds almost nothing: PIL reads the size
    from the header at open, so this tests the size checks without allocating the pixels."""
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + _chunk(b"IDAT", zlib.compress(b"\x00"))
        + _chunk(b"IEND", b"")
    )


def _png_bytes(size: int = 4, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), (7, 80, 200)).save(buf, fmt)
    return buf.getvalue()


def _folder(tmp_path, extra: dict[str, bytes] | None = None, size: int = 4):
    """root/class_a and root/class_b with two good size×size PNGs each, plus ``extra`` files in class_a."""
    root = tmp_path / "root"
    for cls in ("class_a", "class_b"):
        (root / cls).mkdir(parents=True)
        for i in range(2):
            (root / cls / f"{i}.png").write_bytes(_png_bytes(size))
    for name, data in (extra or {}).items():
        (root / "class_a" / name).write_bytes(data)
    return root


def _one_line_error(root, match: str) -> str:
    """Load ``root`` as an imagefolder expecting one GankitError line matching ``match``; no warning either."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(GankitError, match=match) as e:
            load_dataset("imagefolder", root=str(root))
    assert "\n" not in str(e.value)
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]
    return str(e.value)


@pytest.mark.parametrize(
    "width, height",
    [
        (20000, 20000),  # 4e8 pixels: over 2 × MAX_IMAGE_PIXELS, where PIL raises DecompressionBombError
        (10000, 10000),  # 1e8: between MAX_IMAGE_PIXELS and twice it, where PIL only warns and then decodes
        (Image.MAX_IMAGE_PIXELS + 1, 1),  # one pixel over
        (65535, 65535),
    ],
)
def test_decompression_bomb_is_refused_in_one_line(tmp_path, width, height):
    root = _folder(tmp_path, {"bomb.png": _header_only_png(width, height)})
    msg = _one_line_error(root, "MAX_IMAGE_PIXELS")
    assert str(root / "class_a" / "bomb.png") in msg and f"{width * height:,} pixels" in msg


def test_bombs_in_other_formats_are_refused(tmp_path):
    bmp = (
        b"BM"
        + struct.pack("<IHHI", 0, 0, 0, 54)
        + struct.pack("<IiiHHIIiiII", 40, 30000, 30000, 1, 24, 0, 0, 0, 0, 0, 0)
    )
    gif = (
        b"GIF89a"
        + struct.pack("<HHBBB", 65535, 65535, 0, 0, 0)
        + b","
        + struct.pack("<HHHHB", 0, 0, 65535, 65535, 0)
        + b"\x02\x02\x4c\x01\x00;"
    )
    for name, data in [("b.bmp", bmp), ("g.png", gif), ("p.ppm", b"P6 30000 30000 255\n\0")]:
        root = _folder(tmp_path / name, {name: data})
        assert str(root / "class_a" / name) in _one_line_error(root, "decompression bomb")


def test_pixel_limit_is_pil_s_own(tmp_path, monkeypatch):
    # with the limit lowered to 100 pixels, 10×10 is at it and loads; 11×10 (PIL would only warn) and
    # 15×15 (over twice the limit) are refused; the count in the line is the image's own
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    assert load_dataset("imagefolder", root=str(_folder(tmp_path / "ok", size=10))).images.shape == (4, 3, 10, 10)
    for w, h in [(11, 10), (15, 15)]:
        root = _folder(tmp_path / f"{w}x{h}", {"big.png": _header_only_png(w, h)})
        assert f"{w * h} pixels, over the 100 of" in _one_line_error(root, "big.png")


@functools.lru_cache(maxsize=1)
def _inflates_to_20mb() -> bytes:
    return zlib.compress(b"\0" * 20_000_000, 9)  # about 20 kB that inflate to 20 MB


@pytest.mark.parametrize("kind, head", [(b"zTXt", b"k\0\0"), (b"iTXt", b"k\0\1\0en\0k\0"), (b"iCCP", b"k\0\0")])
@pytest.mark.parametrize("where", ["before IDAT", "after IDAT"])  # read at open, or at the end of decoding
def test_png_text_chunk_bomb_is_one_line(tmp_path, kind, head, where):
    png = _png_bytes()
    at = png.index(b"IDAT" if where == "before IDAT" else b"IEND") - 4
    root = _folder(tmp_path, {"text.png": png[:at] + _chunk(kind, head + _inflates_to_20mb()) + png[at:]})
    assert str(root / "class_a" / "text.png") in _one_line_error(root, "cannot read image")


def _damaged_images():
    png, jpg = _png_bytes(64), _png_bytes(64, "JPEG")
    return {
        "truncated.png": png[: len(png) // 2],
        "no-idat-end.png": png[: png.index(b"IDAT") + 10],
        "text.png": b"this is a text file, not a PNG\n",
        "empty.jpg": b"",
        "empty.png": b"",
        "truncated.jpg": jpg[: len(jpg) // 2],
        "bad-crc.png": png[:20] + bytes([png[20] ^ 0xFF]) + png[21:],
        # PIL raises ValueError, not OSError, on these headers
        "bad-header.ppm": b"P6 64 6\xb24 255\n",
        "header-cut.ppm": b"P6 64",
    }


@pytest.mark.parametrize("name", sorted(_damaged_images()))
def test_undecodable_image_is_one_line_naming_it(tmp_path, name):
    root = _folder(tmp_path, {name: _damaged_images()[name]}, size=64)
    assert str(root / "class_a" / name) in _one_line_error(root, "cannot read image")


def test_special_files_are_refused_without_blocking(tmp_path):
    # a FIFO named like an image would block open() forever, /dev/zero would never end
    root = _folder(tmp_path / "fifo")
    os.mkfifo(root / "class_a" / "fifo.png")
    _one_line_error(root, "fifo.png is not a regular file")
    root = _folder(tmp_path / "dev")
    os.symlink("/dev/zero", root / "class_a" / "zero.png")
    _one_line_error(root, "zero.png is not a regular file")
    root = _folder(tmp_path / "broken")
    os.symlink("nowhere.png", root / "class_a" / "broken.png")
    _one_line_error(root, "cannot read image .*broken.png")


@pytest.mark.parametrize(
    "link, target",
    [
        ("class_a/loop", ".."),
        ("class_a/self", "."),
        ("class_a/to_b", "../class_b"),
        ("class_a/up", "../.."),
        ("class_a/slash", "/"),
        ("class_a/sub/back", "../.."),
    ],
)
def test_symlinked_folders_below_classes_are_not_followed(tmp_path, link, target):
    root = _folder(tmp_path)
    plain = load_dataset("imagefolder", root=str(root))
    (root / link).parent.mkdir(exist_ok=True)
    os.symlink(target, root / link)
    d = load_dataset("imagefolder", root=str(root))
    # each of the 4 real files once, with ImageFolder's labels: the very dataset without the link
    assert d.images.shape == (4, 3, 4, 4) and d.labels.tolist() == [0, 0, 1, 1] and d.num_classes == 2
    assert fingerprint(d) == fingerprint(plain)


def test_each_real_file_is_loaded_once(tmp_path):
    root = _folder(tmp_path)
    os.symlink("0.png", root / "class_a" / "again.png")  # the same file twice in its class: once
    d = load_dataset("imagefolder", root=str(root))
    assert d.images.shape[0] == 4 and d.labels.tolist() == [0, 0, 1, 1]
    os.symlink("../class_b/0.png", root / "class_a" / "b0.png")  # one file in two classes: ambiguous
    _one_line_error(root, "are the same file .*keep it in one class")


def test_class_folder_links(tmp_path):
    # a class folder that is a symlink to a folder elsewhere counts, as in ImageFolder
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x.png").write_bytes(_png_bytes())
    root = _folder(tmp_path)
    os.symlink(elsewhere, root / "class_c")
    d = load_dataset("imagefolder", root=str(root))
    assert d.labels.tolist() == [0, 0, 1, 1, 2] and d.num_classes == 3
    # one that links to the root (or above it) would hold the dataset itself
    for target in (root, tmp_path, "/"):
        os.unlink(root / "class_c")
        os.symlink(target, root / "class_c")
        _one_line_error(root, "class folder .*class_c links to .*holds data.root")


IDX_NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def _idx_root(tmp_path, name, replace: dict[str, bytes] | None = None):
    """ROOT with a good tiny IDX set (5 images 28×28, labels 3 1 4 1 5) for ``name``, some files replaced."""
    raw = tmp_path / {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}[name] / "raw"
    raw.mkdir(parents=True)
    imgs = np.random.default_rng(0).integers(0, 256, (5, 28, 28))
    for split in ("train", "t10k"):
        write_idx(raw / f"{split}-images-idx3-ubyte", imgs)
        write_idx(raw / f"{split}-labels-idx1-ubyte", np.array([3, 1, 4, 1, 5]))
    for fname, data in (replace or {}).items():
        (raw / fname).write_bytes(data)
    return imgs


def _idx_bytes(array, dtype_code=8) -> bytes:
    return (
        bytes([0, 0, dtype_code, array.ndim])
        + np.array(array.shape, dtype=">i4").tobytes()
        + array.astype(np.uint8).tobytes()
    )


def _bad_idx():
    good = _idx_bytes(np.zeros((5, 28, 28)))
    return {
        "empty": ("train-images-idx3-ubyte", b""),
        "text": ("train-images-idx3-ubyte", b"not an IDX file\n" * 4),
        "random": ("train-labels-idx1-ubyte", np.random.default_rng(1).bytes(1000)),
        "truncated": ("train-images-idx3-ubyte", good[:-100]),
        "labels 2-d": ("train-labels-idx1-ubyte", _idx_bytes(np.zeros((5, 2)))),
        "float images": (
            "train-images-idx3-ubyte",
            bytes([0, 0, 0x0D, 3]) + np.array([1, 2, 2], ">i4").tobytes() + bytes(16),
        ),
        "label 200": ("train-labels-idx1-ubyte", _idx_bytes(np.array([3, 1, 200, 1, 5]))),
        "4 labels": ("train-labels-idx1-ubyte", _idx_bytes(np.array([3, 1, 4, 1]))),
        "no images": ("train-images-idx3-ubyte", _idx_bytes(np.zeros((0, 28, 28)))),
    }


@pytest.mark.parametrize("case", sorted(_bad_idx()))
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_damaged_idx_files_are_one_line(tmp_path, name, case):
    fname, data = _bad_idx()[case]
    _idx_root(tmp_path, name, {fname: data})
    with pytest.raises(
        GankitError,
        match=f"{name} under {tmp_path} is damaged: reading its train split .*"
        "put good copies of the four IDX files.*data.download=true",
    ) as e:
        load_dataset(name, root=str(tmp_path))
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_all_idx_files_empty_and_a_damaged_test_split(tmp_path, name):
    _idx_root(tmp_path / "a", name, {f: b"" for f in IDX_NAMES})
    with pytest.raises(GankitError, match=f"{name} under {tmp_path / 'a'} is damaged"):
        load_dataset(name, root=str(tmp_path / "a"))
    # a good train split with a damaged test split: the train split loads, the test split is the line
    imgs = _idx_root(tmp_path / "b", name, {"t10k-labels-idx1-ubyte": b"\0\0"})
    assert torch.equal(load_dataset(name, root=str(tmp_path / "b")).images[:, 0], torch.as_tensor(imgs).byte())
    with pytest.raises(GankitError, match=f"{name} under {tmp_path / 'b'} is damaged: reading its test split"):
        load_dataset(name, root=str(tmp_path / "b"), split="test")


def test_good_tiny_fashion_mnist_still_loads(tmp_path):
    imgs = _idx_root(tmp_path, "fashion_mnist")
    d = load_dataset("fashion_mnist", root=str(tmp_path), split="test")
    assert d.images.shape == (5, 1, 28, 28) and torch.equal(d.images[:, 0], torch.as_tensor(imgs).byte())
    assert d.labels.tolist() == [3, 1, 4, 1, 5] and d.num_classes == 10


def test_damaged_legacy_mnist_cache_is_named(tmp_path):
    # torchvision reads MNIST/processed/{training,test}.pt before the raw files when both are there
    _idx_root(tmp_path, "mnist")
    processed = tmp_path / "MNIST" / "processed"
    processed.mkdir()
    for f in ("training.pt", "test.pt"):
        (processed / f).write_bytes(b"garbage")
    with pytest.raises(GankitError, match=f"mnist under {tmp_path} is damaged: .*{processed}.*delete {processed}"):
        load_dataset("mnist", root=str(tmp_path))


def test_a_hard_link_in_two_classes_is_refused_and_in_one_class_counted_once(tmp_path):
    import os

    import numpy as np
    from PIL import Image

    from gankit.data import load_dataset
    from gankit.errors import GankitError

    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(2):
            Image.fromarray(np.full((4, 4), 10 * i + ord(c), np.uint8)).save(tmp_path / c / f"{i}.png")
    os.link(tmp_path / "a" / "0.png", tmp_path / "a" / "again.png")
    assert len(load_dataset("imagefolder", str(tmp_path)).images) == 4
    os.link(tmp_path / "a" / "1.png", tmp_path / "b" / "x.png")
    with pytest.raises(GankitError, match="are the same file"):
        load_dataset("imagefolder", str(tmp_path))


def test_stacked_mnist_stacks_three_independent_digits_as_colour_channels(tmp_path):
    """Each image's channels are MNIST images of the split, its label 100·a + 10·b + c of their digits;
    1,000 classes; the same draw every time."""
    imgs = _idx_root(tmp_path, "mnist")  # 5 images, labels 3 1 4 1 5
    digit_of = {
        tuple(torch.as_tensor(im, dtype=torch.uint8).flatten().tolist()): lab for im, lab in zip(imgs, [3, 1, 4, 1, 5])
    }
    d = load_dataset("stacked_mnist", root=str(tmp_path))
    assert d.images.shape == (5, 3, 28, 28) and d.num_classes == 1000 and d.name == "stacked_mnist"
    for x, label in zip(d.images, d.labels.tolist()):
        a, b, c = (digit_of[tuple(x[k].flatten().tolist())] for k in range(3))
        assert label == 100 * a + 10 * b + c
    again = load_dataset("stacked_mnist", root=str(tmp_path))
    assert torch.equal(again.images, d.images) and torch.equal(again.labels, d.labels)
