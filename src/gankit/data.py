"""Image datasets chosen by name, loaded whole as uint8 tensors.

A dataset is an :class:`ImageData`: ``images`` [N, C, H, W] uint8 and ``labels`` [N] int64.
Keeping the images as uint8 (a quarter of float32) lets a dataset of the size GANs are trained on
sit on the training device, so the loop draws batches by indexing and never waits on a loader;
:func:`to_model_range` scales a batch to [−1, 1] where it is used.

Datasets that torchvision downloads (``mnist``, ``fashion_mnist``, ``cifar10``) are read from
``root`` when their files are there, and downloaded only with ``download=True``; a missing
dataset is one :class:`GankitError` line saying what was looked for where and how to get it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor

from .errors import GankitError
from .registry import Registry

__all__ = ["ImageData", "DATASETS", "load_dataset", "load_splits", "to_model_range", "to_uint8", "resize_uint8",
           "fingerprint"]


@dataclass
class ImageData:
    """A whole dataset in memory: ``images`` [N, C, H, W] uint8, ``labels`` [N] int64."""

    images: Tensor
    labels: Tensor
    num_classes: int
    name: str

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise GankitError(f"dataset {self.name}: expected uint8 images [N, C, H, W], got "
                              f"{self.images.dtype} {tuple(self.images.shape)}")
        if len(self.labels) != len(self.images):
            raise GankitError(f"dataset {self.name}: {len(self.images)} images but {len(self.labels)} labels")

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.images.shape[1:])


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
    from torchvision.transforms.v2 import functional as TF

    return TF.resize(images, [size, size], antialias=True)


DATASETS: Registry[Callable[..., ImageData]] = Registry("dataset")


@DATASETS.register("digits")
def digits(root: str | None = None, download: bool = False, split: str = "train") -> ImageData | None:
    """The 1,797 real 8×8 handwritten digits that scikit-learn ships (grey levels 0..16); one split."""
    from sklearn.datasets import load_digits

    if split != "train":
        return None
    d = load_digits()
    images = torch.from_numpy(d.images).mul(255.0 / 16.0).round().to(torch.uint8)[:, None]  # [N, 1, 8, 8]
    return ImageData(images, torch.from_numpy(d.target).long(), 10, "digits")


def _torchvision(cls_name: str, name: str, hint: str):
    def load(root: str | None = None, download: bool = False, split: str = "train") -> ImageData:
        import torchvision

        root_path = Path(root or "data")
        cls = getattr(torchvision.datasets, cls_name)
        try:
            ds = cls(root=str(root_path), train=split == "train", download=download)
        except RuntimeError as e:  # torchvision's "Dataset not found" when the files are absent
            raise GankitError(f"{name} not found under {root_path} ({str(e).splitlines()[0][:80]}); {hint} "
                              f"or set data.download=true when online") from None
        images = torch.as_tensor(ds.data)
        images = images[:, None] if images.dim() == 3 else images.permute(0, 3, 1, 2)  # → [N, C, H, W]
        labels = torch.as_tensor(ds.targets).long()
        return ImageData(images.contiguous(), labels, len(ds.classes), name)

    load.__doc__ = f"{name} (``split`` train or test) through torchvision, read from data.root."
    return load


DATASETS.register("mnist")(_torchvision(
    "MNIST", "mnist", "put the four IDX files in ROOT/MNIST/raw/ (as torchvision.datasets.MNIST expects)"))
DATASETS.register("fashion_mnist")(_torchvision(
    "FashionMNIST", "fashion_mnist", "put the four IDX files in ROOT/FashionMNIST/raw/"))
DATASETS.register("cifar10")(_torchvision(
    "CIFAR10", "cifar10", "put cifar-10-batches-py/ (the python version) in ROOT"))


@DATASETS.register("imagefolder")
def imagefolder(root: str | None = None, download: bool = False, split: str = "train") -> ImageData | None:
    """Any folder of images with one sub-folder per class (torchvision's ImageFolder layout); one split.

    Images are read as RGB, or as grey when every one of them is single-channel; they must
    share one size (resize happens afterwards, with ``data.resolution``).
    """
    import numpy as np

    if split != "train":
        return None
    from PIL import Image, UnidentifiedImageError
    from torchvision.datasets import ImageFolder

    if root is None or not Path(root).is_dir():
        raise GankitError(f"imagefolder: data.root must be a folder of class sub-folders, got {root!r}")
    try:
        folder = ImageFolder(root, loader=lambda p: p)  # paths only; decoded below
    except (FileNotFoundError, RuntimeError) as e:
        raise GankitError(f"imagefolder: no images found under {root} ({str(e).splitlines()[0][:80]})") from None
    images = []
    for path, _ in folder.samples:
        try:
            with Image.open(path) as im:
                images.append(torch.from_numpy(np.array(im.convert("RGB"))).permute(2, 0, 1))  # [3, H, W]
        except (OSError, UnidentifiedImageError):
            raise GankitError(f"imagefolder: cannot read image {path}") from None
    sizes = {tuple(im.shape) for im in images}
    if len(sizes) > 1:
        raise GankitError(f"imagefolder: images under {root} differ in size ({sorted(sizes)[:3]}...); "
                          "resize them to one size first")
    stacked = torch.stack(images)
    if torch.equal(stacked[:, 0], stacked[:, 1]) and torch.equal(stacked[:, 0], stacked[:, 2]):
        stacked = stacked[:, :1]  # grey images stored as RGB
    labels = torch.tensor([c for _, c in folder.samples], dtype=torch.long)
    return ImageData(stacked.contiguous(), labels, len(folder.classes), "imagefolder")


def load_dataset(name: str, root: str | None = None, download: bool = False, resolution: int | None = None,
                 split: str = "train") -> ImageData | None:
    """Load the dataset registered as ``name`` (its ``split``: train, or test where there is one; None
    when there is not), resized to ``resolution`` × ``resolution`` if given."""
    data = DATASETS[name](root=root, download=download, split=split)
    if data is not None and resolution is not None:
        data.images = resize_uint8(data.images, resolution)
    return data


def load_splits(name: str, root: str | None = None, download: bool = False, resolution: int | None = None,
                seed: int = 0, train: ImageData | None = None) -> tuple[ImageData, ImageData, str]:
    """(reference, held-out, description): two disjoint sets of real images for evaluation.

    The train and test splits where the dataset has them; otherwise the one split cut in two halves
    by a seeded permutation (the same halves every time). Metrics compare samples with the reference;
    the held-out set against the reference is the floor, what a perfect generator would read.
    ``train``: the train split if the caller has it loaded already (it is not read again).
    """
    train = load_dataset(name, root, download, resolution, "train") if train is None else train
    test = load_dataset(name, root, download, resolution, "test")
    if test is not None:
        return train, test, "train split vs test split"
    perm = torch.randperm(len(train.images), generator=torch.Generator().manual_seed(seed))
    a, b = perm[: len(perm) // 2].sort().values, perm[len(perm) // 2:].sort().values
    half = lambda idx: ImageData(train.images[idx], train.labels[idx], train.num_classes, train.name)  # noqa: E731
    return half(a), half(b), "two disjoint halves (no test split)"
