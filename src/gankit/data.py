"""Image datasets chosen by name, loaded whole as uint8 tensors.

A dataset is an :class:`ImageData`: ``images`` [N, C, H, W] uint8 and ``labels`` [N] int64.
Keeping the images as uint8 (a quarter of float32) lets a dataset of the size GANs are trained on
sit on the training device, so the loop draws batches by indexing and never waits on a loader;
:func:`to_model_range` scales a batch to [−1, 1] where it is used.

Datasets that torchvision downloads (``mnist``, ``fashion_mnist``, ``cifar10``) are read from
``root`` when their files are there, and downloaded only with ``download=True``; a missing
dataset is one :class:`GankitError` line saying what was looked for where and how to get it, and so
are damaged files: an unreadable dataset file, an image that cannot be decoded, one over PIL's
``Image.MAX_IMAGE_PIXELS`` (a decompression bomb), each named in the line.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .errors import GankitError, refusal
from .registry import DATASETS

__all__ = [
    "ImageData",
    "DATASETS",
    "load_dataset",
    "load_splits",
    "to_model_range",
    "to_uint8",
    "resize_uint8",
    "fingerprint",
]


@dataclass
class ImageData:
    """A whole dataset in memory: ``images`` [N, C, H, W] uint8, ``labels`` [N] int64."""

    images: Tensor
    labels: Tensor
    num_classes: int
    name: str

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise GankitError(
                f"dataset {self.name}: expected uint8 images [N, C, H, W], got "
                f"{self.images.dtype} {tuple(self.images.shape)}"
            )
        if len(self.labels) != len(self.images):
            raise GankitError(f"dataset {self.name}: {len(self.images)} images but {len(self.labels)} labels")

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        c, h, w = self.images.shape[1:]  # four dimensions: __post_init__ checks them
        return c, h, w


def fingerprint(data: ImageData) -> str:
    """SHA-256 (16 hex digits) of a dataset's images, labels, shape and class count: its identity
    (in caches of features and statistics, and in checkpoints, so a run resumes on its own data)."""
    h = hashlib.sha256()
    h.update(str((tuple(data.images.shape), data.num_classes)).encode())
    h.update(data.images.contiguous().cpu().numpy().tobytes())
    h.update(data.labels.contiguous().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def to_model_range(x: Tensor) -> Tensor:
    """uint8 [0, 255] → float in [−1, 1] (the range of a tanh generator)."""
    return x.float().div_(127.5).sub_(1.0)


def to_uint8(x: Tensor) -> Tensor:
    """float in [−1, 1] → uint8 [0, 255], rounding to nearest and clipping."""
    return ((x.detach().float() + 1.0) * 127.5).round_().clamp_(0, 255).to(torch.uint8)


def resize_uint8(images: Tensor, size: int) -> Tensor:
    """Resize uint8 [N, C, H, W] to [N, C, size, size] with antialiased bilinear interpolation."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    # torch's own uint8 kernel, which torchvision's resize of a uint8 tensor calls: the same pixels without
    # importing torchvision.transforms (1.5 s of the default run's start-up)
    return torch.nn.functional.interpolate(images, size=[size, size], mode="bilinear", antialias=True)


# DATASETS is gankit.registry's, which declares these names so that a config is checked without torch


@DATASETS.register("digits")
def digits(root: str | None = None, download: bool = False, split: str = "train") -> ImageData | None:
    """The 1,797 real 8×8 handwritten digits that scikit-learn ships (grey levels 0..16); one split."""
    if split != "train":
        return None
    grey, target = _sklearn_digits()
    images = torch.from_numpy(grey).mul(255.0 / 16.0).round().to(torch.uint8)[:, None]  # [N, 1, 8, 8]
    return ImageData(images, torch.from_numpy(target).long(), 10, "digits")


def _sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as ``load_digits`` returns them (images [1797, 8, 8] float, targets [1797] int),
    read from the CSV file scikit-learn ships without importing scikit-learn (1.5 s of start-up)."""
    spec = importlib.util.find_spec("sklearn")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        path = Path(root) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            table = np.loadtxt(path, delimiter=",")  # [1797, 65]: 64 grey levels 0..16, then the digit
            return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits  # another layout: let scikit-learn find its file

    d = load_digits()
    return d.images, d.target


def _first_line(e: BaseException, limit: int = 120) -> str:
    """An exception as one short line: its type and the first line of its message."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return f"{type(e).__name__}: {lines[0][:limit]}" if lines else type(e).__name__


def _array_problem(images: Tensor, labels: Tensor, num_classes: int) -> str | None:
    """What is wrong with arrays a torchvision dataset parsed from its files (None when nothing is):
    files with a well-formed header can still hold no images, mismatched counts or stray labels."""
    if images.dtype != torch.uint8 or images.dim() not in (3, 4) or labels.dim() != 1:
        return f"images {images.dtype} {tuple(images.shape)}, labels {tuple(labels.shape)}"
    if len(images) == 0 or images.shape[1] == 0 or images.shape[2] == 0:
        return f"no pixels: images of shape {tuple(images.shape)}"
    if len(images) != len(labels):
        return f"{len(images)} images but {len(labels)} labels"
    if labels.min() < 0 or labels.max() >= num_classes:
        return f"labels from {labels.min().item()} to {labels.max().item()}, outside 0..{num_classes - 1}"
    return None


def _unreadable(
    name: str, cls_name: str, root: Path, where: str, wanted: str, split: str, problem: str, download: bool
) -> GankitError:
    """The one line for a torchvision dataset whose files are there but cannot be read (or downloaded)."""
    legacy = root / cls_name / "processed"  # torchvision reads this old cache before the raw files, if whole
    if all((legacy / f).is_file() for f in ("training.pt", "test.pt")):
        return GankitError(
            f"{name} under {root} is damaged: reading its {split} split from {legacy} failed "
            f"({problem}); delete {legacy}, torchvision's old cache, to read {wanted}"
        )
    if download:
        return GankitError(
            f"{name} under {root} could not be downloaded or read: getting its {split} split "
            f"into {root / where} failed ({problem}); check the connection, or put {wanted}"
        )
    return GankitError(
        f"{name} under {root} is damaged: reading its {split} split from {root / where} failed "
        f"({problem}); put good copies of {wanted}, or delete them and set data.download=true "
        "when online"
    )


def _torchvision(cls_name: str, name: str, where: str, files: str):
    """A loader for a torchvision dataset whose files lie in ROOT/``where``; ``files`` says what belongs there."""

    def load(root: str | None = None, download: bool = False, split: str = "train") -> ImageData:
        import torchvision

        root_path = Path(root or "data")
        wanted = files.replace("ROOT", str(root_path))
        cls = getattr(torchvision.datasets, cls_name)
        try:
            ds = cls(root=str(root_path), train=split == "train", download=download)
            images, labels = torch.as_tensor(ds.data), torch.as_tensor(ds.targets).long()
            problem = _array_problem(images, labels, len(ds.classes))
        # torchvision's parsers meet damaged files with whatever fails first (ValueError, AssertionError,
        # KeyError, RuntimeError, pickle errors, ...), so any exception here is the files' fault
        except Exception as e:
            if isinstance(e, RuntimeError) and str(e).startswith("Dataset not found"):  # the files are absent
                raise GankitError(
                    f"{name} not found under {root_path} ({str(e).splitlines()[0][:80]}); put {wanted} "
                    f"or set data.download=true when online"
                ) from None
            problem = refusal(e) if "Weights only" in str(e) else _first_line(e)  # never torch's unsafe advice
        if problem is not None:
            raise _unreadable(name, cls_name, root_path, where, wanted, split, problem, download)
        images = images[:, None] if images.dim() == 3 else images.permute(0, 3, 1, 2)  # → [N, C, H, W]
        return ImageData(images.contiguous(), labels, len(ds.classes), name)

    load.__doc__ = f"{name} (``split`` train or test) through torchvision, read from data.root."
    return load


DATASETS.register("mnist")(
    _torchvision(
        "MNIST", "mnist", "MNIST/raw", "the four IDX files in ROOT/MNIST/raw/ (as torchvision.datasets.MNIST expects)"
    )
)
DATASETS.register("fashion_mnist")(
    _torchvision("FashionMNIST", "fashion_mnist", "FashionMNIST/raw", "the four IDX files in ROOT/FashionMNIST/raw/")
)
DATASETS.register("cifar10")(
    _torchvision("CIFAR10", "cifar10", "cifar-10-batches-py", "cifar-10-batches-py/ (the python version) in ROOT")
)


@DATASETS.register("stacked_mnist")
def stacked_mnist(root: str | None = None, download: bool = False, split: str = "train") -> ImageData:
    """StackedMNIST (Metz et al. 2017; the mode-collapse benchmark of VEEGAN, PacGAN and R3GAN): each
    image stacks three MNIST digits of ``split``, drawn independently and uniformly, as its red, green
    and blue channels: [N, 3, 28, 28] uint8 with N the split's size, label 100·a + 10·b + c of the
    digits a, b, c (1,000 classes, the modes). The draw is seeded per split: the same dataset every time.
    Built from the MNIST files under ``root`` (see the ``mnist`` dataset)."""
    mnist = DATASETS["mnist"](root=root, download=download, split=split)
    assert mnist is not None  # MNIST has both splits
    n = len(mnist.images)
    idx = torch.randint(n, (n, 3), generator=torch.Generator().manual_seed(1000 if split == "train" else 1001))
    images = torch.cat([mnist.images[idx[:, k]] for k in range(3)], dim=1)  # [N, 3, 28, 28]
    labels = (mnist.labels[idx] * torch.tensor([100, 10, 1])).sum(dim=1)  # [N] in 0..999
    return ImageData(images.contiguous(), labels, 1000, "stacked_mnist")


def _unlistable(e: OSError) -> None:
    """os.walk's error hook: a folder it cannot list would silently drop its images, so it is an error."""
    raise GankitError(f"imagefolder: cannot list folder {e.filename} ({_first_line(e)})")


def _class_files(root: str) -> tuple[list[tuple[str, int]], list[str]]:
    """(path, label) of every image under ``root`` in ImageFolder's layout and order, and the classes.

    As torchvision's ImageFolder: the sorted names of ``root``'s sub-folders (a symlink to a folder
    counts) are the classes 0, 1, ...; each class holds the files below its folder whose names end in
    one of ImageFolder's extensions, walked in sorted order; a class without one is an error. Unlike
    ImageFolder, symlinks to folders *below* a class folder are not followed (a link such as
    ``cat/loop -> ..`` would otherwise walk the dataset again and again), and each real file is taken
    once: a file reached twice in one class (through links) counts once, one reached from two classes
    is an error, since its label would be ambiguous.
    """
    from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes

    try:
        classes, _ = find_classes(root)
    except OSError as e:  # no class sub-folder (FileNotFoundError), or an unreadable root
        raise GankitError(f"imagefolder: no images found under {root} ({_first_line(e, 80)})") from None
    real_root = os.path.realpath(root)
    owner: dict[object, tuple[str, str]] = {}  # a file's identity → (the path it was first met at, its class)
    samples, empty = [], []
    for label, cls in enumerate(classes):
        top = os.path.join(root, cls)
        real_top = os.path.realpath(top)
        if real_root == real_top or real_root.startswith(real_top.rstrip(os.sep) + os.sep):
            raise GankitError(
                f"imagefolder: class folder {top} links to {real_top}, which holds data.root "
                f"itself; a class folder must not contain the dataset"
            )
        count = 0
        for folder, _, names in sorted(os.walk(top, onerror=_unlistable, followlinks=False)):
            for fname in sorted(names):
                path = os.path.join(folder, fname)
                if not fname.lower().endswith(IMG_EXTENSIONS):
                    continue
                real = os.path.realpath(path)
                try:  # a file's identity: hard links to one file share it, whatever their paths
                    st = os.stat(path)
                    ident: object = (st.st_dev, st.st_ino)
                except OSError:  # a broken link: reported when it is read
                    ident = real
                if ident in owner:
                    if owner[ident][1] != cls:
                        raise GankitError(
                            f"imagefolder: {path} (class {cls!r}) and {owner[ident][0]} (class "
                            f"{owner[ident][1]!r}) are the same file {real}; keep it in one class"
                        )
                    continue  # the same file again in its own class, through a link: taken once
                owner[ident] = (path, cls)
                samples.append((path, label))
                count += 1
        if count == 0:
            empty.append(cls)
    if empty:
        raise GankitError(
            f"imagefolder: no images found under {root} (class folder(s) {', '.join(empty)} hold "
            f"no file ending in {', '.join(IMG_EXTENSIONS)})"
        )
    return samples, classes


def _decode_rgb(path: str, size: tuple[int, int] | None, first: str | None) -> Tensor:
    """One image file as RGB uint8 [3, H, W]; every way it can fail is one GankitError line naming it.

    ``size`` (W, H) is the size every image must share (the first image's, at ``first``); it is
    checked from the header before any pixel is decoded, as is the pixel count: images over PIL's
    ``Image.MAX_IMAGE_PIXELS`` are refused (PIL only warns up to twice that, then decodes them).
    """
    import numpy as np
    from PIL import Image

    try:
        # a FIFO or a device named x.png would block or never end; only regular files are images
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise GankitError(f"imagefolder: {path} is not a regular file; remove it from the dataset")
        with warnings.catch_warnings():
            # PIL checks the pixel count at open; over the limit it only warns (up to twice it): refuse
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size  # from the header: nothing is decoded before the checks below
                if w < 1 or h < 1:
                    raise GankitError(f"imagefolder: image {path} has no pixels ({w}×{h})")
                if size is not None and (w, h) != size:
                    raise GankitError(
                        f"imagefolder: images differ in size ({first} is {size[0]}×{size[1]}, "
                        f"{path} is {w}×{h}); resize them to one size first"
                    )
                return torch.from_numpy(np.array(im.convert("RGB"))).permute(2, 0, 1)  # [3, H, W]
    except GankitError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        found = re.search(r"\((\d+) pixels\)", str(e))  # PIL's message holds the count; the size is not kept
        pixels = f"{int(found[1]):,} pixels" if found else _first_line(e)
        raise GankitError(
            f"imagefolder: refusing image {path}: {pixels}, over the {Image.MAX_IMAGE_PIXELS:,} of "
            "PIL.Image.MAX_IMAGE_PIXELS (a possible decompression bomb); shrink or remove it"
        ) from None
    # PIL's plugins meet damaged files with many exception types (OSError, ValueError for text chunks
    # that inflate too far, SyntaxError, struct.error, MemoryError, ...): each is this file's fault
    except Exception as e:
        raise GankitError(f"imagefolder: cannot read image {path} ({_first_line(e)}); fix or remove it") from None


@DATASETS.register("imagefolder")
def imagefolder(root: str | None = None, download: bool = False, split: str = "train") -> ImageData | None:
    """Any folder of images with one sub-folder per class (torchvision's ImageFolder layout); one split.

    Images are read as RGB, or as grey when every one of them is single-channel; they must
    share one size (resize happens afterwards, with ``data.resolution``). Which files count is
    :func:`_class_files`'s rule: symlinked folders below a class folder are not followed and each
    real file is loaded once. A file that cannot be decoded, is not a regular file, or is larger than
    PIL's ``Image.MAX_IMAGE_PIXELS`` (a decompression bomb) is one GankitError line naming it.
    """
    if split != "train":
        return None
    if root is None or not Path(root).is_dir():
        raise GankitError(f"imagefolder: data.root must be a folder of class sub-folders, got {root!r}")
    samples, classes = _class_files(root)
    images: list[Tensor] = []
    for path, _ in samples:
        size = (images[0].shape[2], images[0].shape[1]) if images else None
        images.append(_decode_rgb(path, size, samples[0][0]))
    stacked = torch.stack(images)
    if torch.equal(stacked[:, 0], stacked[:, 1]) and torch.equal(stacked[:, 0], stacked[:, 2]):
        stacked = stacked[:, :1]  # grey images stored as RGB
    labels = torch.tensor([c for _, c in samples], dtype=torch.long)
    return ImageData(stacked.contiguous(), labels, len(classes), "imagefolder")


def load_dataset(
    name: str, root: str | None = None, download: bool = False, resolution: int | None = None, split: str = "train"
) -> ImageData | None:
    """Load the dataset registered as ``name`` (its ``split``: train, or test where there is one; None
    when there is not), resized to ``resolution`` × ``resolution`` if given."""
    data = DATASETS[name](root=root, download=download, split=split)
    if data is not None and resolution is not None:
        data.images = resize_uint8(data.images, resolution)
    return data


def load_splits(
    name: str,
    root: str | None = None,
    download: bool = False,
    resolution: int | None = None,
    seed: int = 0,
    train: ImageData | None = None,
) -> tuple[ImageData, ImageData, str]:
    """(reference, held-out, description): two disjoint sets of real images for evaluation.

    The train and test splits where the dataset has them; otherwise the one split cut in two halves
    by a seeded permutation (the same halves every time). Metrics compare samples with the reference;
    the held-out set against the reference is the floor, what a perfect generator would read.
    ``train``: the train split if the caller has it loaded already (it is not read again).
    """
    train = load_dataset(name, root, download, resolution, "train") if train is None else train
    assert train is not None  # only a test split may be missing
    # data given from Python under another name is not the named dataset: its test split would not be held out
    test = load_dataset(name, root, download, resolution, "test") if train.name == name else None
    if test is not None:
        return train, test, "train split vs test split"
    perm = torch.randperm(len(train.images), generator=torch.Generator().manual_seed(seed))
    a, b = perm[: len(perm) // 2].sort().values, perm[len(perm) // 2 :].sort().values
    half = lambda idx: ImageData(train.images[idx], train.labels[idx], train.num_classes, train.name)  # noqa: E731
    return half(a), half(b), "two disjoint halves (no test split)"
