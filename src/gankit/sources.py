"""Data as users bring it: tensors, ``torch.utils.data`` Datasets and DataLoaders, and image folders too
large for memory.

Two forms reach the training loop. :class:`~gankit.data.ImageData` holds a whole dataset as uint8 on the
training device (the fast path: a batch is an index). :class:`StreamData` reads batches from disk or from
a user's Dataset through a ``DataLoader`` (worker processes decode and resize, pinned memory, prefetching),
for data too large for memory or set so with ``data.in_memory=false``. Its batches are a pure function of
(seed, draw number): batch i of a run is the same whenever it is drawn, so a resumed run continues from
the checkpoint's draw and stays bit-identical to an uninterrupted one.

A user's images are uint8 [N, C, H, W] (or [N, H, W] for grey), or float in [−1, 1] (the range G's
tanh produces; stored as uint8 like every dataset, so they are quantised to 256 levels). Items of a
Dataset are images (tensor [C, H, W], array [H, W, C] or PIL image) or (image, label) pairs.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Iterator

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

# the in-memory image folder's file walk and decoder: the same rules, checks and one-line errors when streamed
from .data import ImageData, _class_files, _decode_rgb, fingerprint, load_dataset, resize_uint8, to_uint8
from .errors import GankitError
from .memory import human_bytes

__all__ = [
    "StreamData",
    "as_image_data",
    "as_training_data",
    "image_tensor",
    "draw_indices",
    "IN_MEMORY_LIMIT",
    "EVAL_SUBSET",
]

# data.in_memory=auto holds a dataset in memory when its uint8 images take at most this many bytes. A fixed size,
# not a share of the free memory: the choice decides the data's fingerprint (pixels in memory, files when
# streamed), so a run must make it the same way when it is resumed or evaluated on another machine
IN_MEMORY_LIMIT = 4 << 30
EVAL_SUBSET = 20_000  # streamed data: the real images the metrics compare with (two halves when no test split)
IDENTITY_ITEMS = 16  # a streamed Dataset's identity hashes this many of its items (spread over it) and its size


def image_tensor(x: Any, where: str) -> Tensor:
    """One image or a batch of them as uint8: uint8 kept; float checked to lie in [−1, 1] and quantised.
    Accepts tensors, NumPy arrays and PIL images (PIL and [H, W, C] arrays are moved to [C, H, W])."""
    if not torch.is_tensor(x):
        import numpy as np

        if hasattr(x, "convert") and hasattr(x, "size"):  # a PIL image
            x = np.asarray(x)
        if not isinstance(x, np.ndarray):
            raise GankitError(f"{where}: expected an image tensor, array or PIL image, got {type(x).__name__}")
        x = torch.from_numpy(np.ascontiguousarray(x))
        if x.dim() == 3 and x.shape[-1] in (1, 3, 4) and x.shape[0] not in (1, 3, 4):
            x = x.permute(2, 0, 1)  # [H, W, C] → [C, H, W], as PIL and NumPy hold images
    if x.dtype == torch.uint8:
        return x
    if not x.is_floating_point():
        raise GankitError(f"{where}: images must be uint8 or float in [−1, 1], got {x.dtype}")
    if not bool(torch.isfinite(x).all()):
        raise GankitError(f"{where}: images hold nan or inf")
    lo, hi = float(x.min()), float(x.max())
    if lo < -1.001 or hi > 1.001:
        raise GankitError(
            f"{where}: float images must lie in [−1, 1] (G's tanh range), these span [{lo:.3g}, {hi:.3g}]"
        )
    if lo >= 0 and x.numel() > 1000:
        # real images in [−1, 1] always hold dark pixels below 0: [0, 1] data (ToTensor's) would train G on a
        # washed-out copy of itself without a word
        raise GankitError(
            f"{where}: float images span [{lo:.3g}, {hi:.3g}], which looks like [0, 1] (ToTensor); gankit takes "
            "[−1, 1]: map them with x * 2 − 1 (or Normalize(0.5, 0.5))"
        )
    return to_uint8(x)


def _labels(labels: Any, n: int, where: str) -> tuple[Tensor, int]:
    """(labels [n] int64, number of classes) of given labels; (zeros, 0) for unlabelled data."""
    if labels is None:
        return torch.zeros(n, dtype=torch.long), 0
    y = torch.as_tensor(labels)
    if y.dim() != 1 or len(y) != n or y.is_floating_point() or y.dtype == torch.bool:
        raise GankitError(f"{where}: labels must be {n} integers, got {y.dtype} {tuple(y.shape)}")
    if n and int(y.min()) < 0:
        raise GankitError(f"{where}: labels must be 0, 1, 2, ...; found {int(y.min())}")
    return y.long(), int(y.max()) + 1 if n else 0


def _from_tensor(images: Tensor, labels: Any, name: str) -> ImageData:
    """ImageData of an image tensor [N, C, H, W] or [N, H, W] and optional labels [N]."""
    x = image_tensor(images, f"data ({name})")
    if x.dim() == 3:
        x = x[:, None]  # grey [N, H, W] → [N, 1, H, W]
    if x.dim() != 4 or 0 in x.shape:
        raise GankitError(f"data ({name}): expected images [N, C, H, W] or [N, H, W], got {tuple(x.shape)}")
    y, n_cls = _labels(labels, len(x), f"data ({name})")
    return ImageData(x.contiguous(), y, n_cls, name)


def _item(dataset: Any, i: int, where: str) -> tuple[Tensor, int]:
    """Item i of a map-style Dataset as (uint8 [C, H, W], label; −1 when the items carry none)."""
    try:
        item = dataset[i]
    except GankitError:
        raise
    except Exception as e:  # the user's __getitem__: whatever it raises is its own
        raise GankitError(f"{where}: reading item {i} failed ({type(e).__name__}: {str(e)[:100]})") from None
    label: Any = -1
    if isinstance(item, (tuple, list)):  # (image,) as a TensorDataset of images gives, or (image, label)
        if len(item) not in (1, 2):
            raise GankitError(f"{where}: items must be images or (image, label) pairs, item {i} has {len(item)} parts")
        item, label = item if len(item) == 2 else (item[0], -1)
    x = image_tensor(item, f"{where}, item {i}")
    if x.dim() == 2:
        x = x[None]
    if x.dim() != 3:
        raise GankitError(f"{where}: item {i} is not one image [C, H, W]: {tuple(x.shape)}")
    return x, int(label)


def _dataset_of(data: Any) -> Any:
    """The map-style Dataset behind a DataLoader (gankit draws its own batches of train.batch_size, so
    that its order is seeded and resumable), or ``data`` itself."""
    ds = data.dataset if isinstance(data, DataLoader) else data
    if isinstance(ds, IterableDataset) or not (hasattr(ds, "__getitem__") and hasattr(ds, "__len__")):
        raise GankitError(
            f"data: expected a tensor, a map-style Dataset (with __getitem__ and __len__) or a DataLoader over "
            f"one, got {type(ds).__name__}"
        )
    if len(ds) == 0:
        raise GankitError("data: the dataset is empty")
    return ds


def _stack_dataset(ds: Any, name: str) -> ImageData:
    """A whole map-style Dataset read into memory."""
    if isinstance(ds, TensorDataset):  # its tensors as they are: no item-by-item copy
        tensors = ds.tensors
        if len(tensors) not in (1, 2):
            raise GankitError(f"data: a TensorDataset of images or (images, labels), got {len(tensors)} tensors")
        return _from_tensor(tensors[0], tensors[1] if len(tensors) == 2 else None, name)
    items = [_item(ds, i, "data") for i in range(len(ds))]
    shapes = {tuple(x.shape) for x, _ in items}
    if len(shapes) > 1:
        raise GankitError(f"data: items differ in shape ({', '.join(map(str, sorted(shapes)[:2]))}); resize them")
    labels = [c for _, c in items]
    if any(c < 0 for c in labels) and not all(c < 0 for c in labels):
        raise GankitError("data: some items carry labels and some do not")
    return _from_tensor(torch.stack([x for x, _ in items]), None if labels[0] < 0 else labels, name)


def as_image_data(data: Any, name: str = "custom") -> ImageData:
    """``data`` as a dataset in memory: ImageData as it is; an image tensor; an (images, labels) pair of
    tensors; a map-style Dataset of images or (image, label) pairs, or a DataLoader over one."""
    if isinstance(data, ImageData):
        return data
    if torch.is_tensor(data):
        return _from_tensor(data, None, name)
    if isinstance(data, tuple) and len(data) == 2 and torch.is_tensor(data[0]):
        return _from_tensor(data[0], data[1], name)
    return _stack_dataset(_dataset_of(data), name)


# --- streaming ------------------------------------------------------------------------------------------
def draw_indices(n: int, batch: int, seed: int, draw: int) -> Tensor:
    """The dataset indices [batch] of a run's draw number ``draw``: uniform with replacement (as the
    in-memory path draws), from a generator seeded by (seed, draw) alone, so any draw can be made again."""
    gen = torch.Generator().manual_seed((seed * 0x9E3779B1 + draw) % (1 << 63))
    return torch.randint(n, (batch,), generator=gen)


class _Resized(Dataset):
    """Items of a Dataset as (uint8 [C, H, W] at ``size``, label), decoded in the loader's workers."""

    def __init__(self, dataset: Any, size: int | None, channels: int):
        self.dataset, self.size, self.channels = dataset, size, channels

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        x, y = _item(self.dataset, i, "data")
        if self.size is not None:
            x = resize_uint8(x[None], self.size)[0]
        if x.shape[0] != self.channels:  # a grey dataset's stray RGB image, or the reverse
            x = x[:1] if self.channels == 1 else x.expand(self.channels, -1, -1)
        return x, max(y, 0)


class _Draws:
    """The batch sampler: draw ``first``, ``first`` + 1, ... forever, each this process's rows of the draw."""

    def __init__(self, n: int, global_batch: int, seed: int, first: int, rows: slice):
        self.n, self.global_batch, self.seed, self.first, self.rows = n, global_batch, seed, first, rows

    def __iter__(self) -> Iterator[list[int]]:
        draw = self.first
        while True:
            yield draw_indices(self.n, self.global_batch, self.seed, draw)[self.rows].tolist()
            draw += 1


@dataclass
class StreamData:
    """A dataset read batch by batch: ``dataset`` maps i to (image, label) as :func:`_item` reads it;
    ``shape`` (C, H, W) after resizing to ``size``; ``identity`` fingerprints it (a run resumes on its own
    data only) from its size and a spread of its items, or for an image folder from its files' paths and sizes."""

    dataset: Any
    shape: tuple[int, int, int]
    num_classes: int
    name: str
    identity: str
    size: int | None = None
    workers: int = 1

    def __len__(self) -> int:
        return len(self.dataset)

    def batches(
        self, global_batch: int, seed: int, first: int, rows: slice, pin: bool
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """(uint8 images [B, C, H, W], labels [B]) of draws ``first``, ``first`` + 1, ...: this process's
        ``rows`` of each global batch, decoded ahead by the workers (two batches each)."""
        loader: DataLoader[tuple[Tensor, int]] = DataLoader(
            _Resized(self.dataset, self.size, self.shape[0]),
            batch_sampler=_Draws(len(self.dataset), global_batch, seed, first, rows),
            num_workers=self.workers,
            pin_memory=pin,
            prefetch_factor=2 if self.workers else None,
            persistent_workers=False,
            # the loader seeds its workers from this generator, not the global RNG, whose state the run's
            # checkpoint restores: creating the loader (at the start and on resume) must not move it
            generator=torch.Generator().manual_seed(seed),
        )
        return _one_line_errors(iter(loader))

    def subset(self, n: int, seed: int = 0) -> ImageData:
        """A seeded random subset of n images held in memory (without replacement, in index order): what
        the image metrics compare with."""
        n = min(n, len(self.dataset))
        pick = torch.randperm(len(self.dataset), generator=torch.Generator().manual_seed(seed))[:n].sort().values
        ds = _Resized(self.dataset, self.size, self.shape[0])
        items = [ds[int(i)] for i in pick]
        return ImageData(
            torch.stack([x for x, _ in items]), torch.tensor([y for _, y in items]), self.num_classes, self.name
        )


def _one_line_errors(batches: Iterator[Any]) -> Iterator[Any]:
    """The loader's batches; a worker's failure (re-raised by the DataLoader with the worker's whole
    traceback in its message) as the one line it ended with, a GankitError's own line included."""
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except Exception as e:
            lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
            last = lines[-1] if lines else type(e).__name__
            raise GankitError(last.split("GankitError: ", 1)[-1]) from None
        yield batch


def _identity(ds: Any, first: Tensor) -> str:
    """A cheap fingerprint of a streamed Dataset: its length and IDENTITY_ITEMS items spread over it."""
    h = hashlib.sha256(str((len(ds), tuple(first.shape))).encode())
    for i in torch.linspace(0, len(ds) - 1, min(IDENTITY_ITEMS, len(ds))).round().long().unique().tolist():
        x, y = _item(ds, i, "data")
        h.update(x.contiguous().numpy().tobytes())
        h.update(str(y).encode())
    return h.hexdigest()[:16]


def default_workers() -> int:
    """Loader processes when data.workers is unset: one per core beyond the training's first, 1 to 4."""
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def stream_dataset(ds: Any, name: str, size: int | None, workers: int | None) -> StreamData:
    """StreamData over a map-style Dataset. Its classes are known only when it lists its labels as
    ``ds.targets`` (as torchvision's datasets do): reading every item to find them would read the whole
    dataset; otherwise it streams as unlabelled (0 classes)."""
    x, y = _item(ds, 0, "data")
    if size is not None:
        x = resize_uint8(x[None], size)[0]
    targets = getattr(ds, "targets", None) if y >= 0 else None
    num_classes = int(max(targets)) + 1 if targets is not None and len(targets) else 0
    c, h, w = x.shape
    return StreamData(
        ds, (c, h, w), num_classes, name, _identity(ds, x), size, default_workers() if workers is None else workers
    )


def dataset_bytes(ds: Any, size: int | None) -> int:
    """Memory a map-style Dataset would take as uint8 in memory, from its first item."""
    x, _ = _item(ds, 0, "data")
    c, h, w = x.shape
    return len(ds) * c * (size or h) * (size or w)


def as_training_data(
    data: Any, in_memory: str | bool = "auto", size: int | None = None, workers: int | None = None, name: str = "custom"
) -> ImageData | StreamData:
    """A user's data as the loop trains on it: in memory (``in_memory`` true, or auto when it needs at most
    IN_MEMORY_LIMIT bytes) or streamed (false, or auto when larger)."""
    if isinstance(data, (ImageData, StreamData)):
        return data
    if torch.is_tensor(data) or isinstance(data, tuple):
        out = as_image_data(data, name)
        if size is not None:
            out.images = resize_uint8(out.images, size)
        return out
    ds = _dataset_of(data)
    if in_memory == "auto":
        need = dataset_bytes(ds, size)
        in_memory = need <= IN_MEMORY_LIMIT
        if not in_memory:
            from .progress import note

            note(f"data: {human_bytes(need)} of images, over {human_bytes(IN_MEMORY_LIMIT)}: streaming them")
    if in_memory:
        out = as_image_data(ds, name)
        if size is not None:
            out.images = resize_uint8(out.images, size)
        return out
    return stream_dataset(ds, name, size, workers)


class ImageFiles:
    """An image folder as a map-style Dataset: item i is (RGB uint8 [3, H, W], label) of its i-th file, in
    ImageFolder's order, decoded when asked (in a loader worker). Every image must share the first's size."""

    def __init__(self, samples: list[tuple[str, int]]):
        self.samples = samples
        self.first = samples[0][0]
        _, h, w = _decode_rgb(self.first, None, None).shape
        self.size = (w, h)  # of the first image, which every other must share

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        path, label = self.samples[i]
        return _decode_rgb(path, self.size, self.first), label


def _files_identity(samples: list[tuple[str, int]], shape: tuple[int, ...]) -> str:
    """An image folder's fingerprint without reading its pixels: every file's path, size and label."""
    h = hashlib.sha256(str(shape).encode())
    for path, label in samples:
        h.update(f"{path}\0{os.path.getsize(path)}\0{label}\n".encode())
    return h.hexdigest()[:16]


def open_stream(
    name: str, root: str | None, download: bool, size: int | None, in_memory: str | bool, workers: int | None
) -> StreamData | None:
    """The dataset ``name`` as StreamData when ``in_memory`` is false, or auto for an image folder whose
    images would need more than IN_MEMORY_LIMIT bytes; None when it is to be held in memory.
    Datasets that torchvision parses whole (mnist, cifar10, ...) stream from the arrays it parsed."""
    if in_memory is True or (in_memory == "auto" and name != "imagefolder"):
        return None
    if name == "imagefolder":
        if root is None or not Path(root).is_dir():
            raise GankitError(f"imagefolder: data.root must be a folder of class sub-folders, got {root!r}")
        samples, classes = _class_files(root)
        files = ImageFiles(samples)
        w, h = files.size
        need = len(samples) * 3 * (size or h) * (size or w)
        if in_memory == "auto" and need <= IN_MEMORY_LIMIT:
            return None
        shape = (3, size or h, size or w)
        ident = _files_identity(samples, shape)
        n_workers = default_workers() if workers is None else workers
        return StreamData(files, shape, len(classes), "imagefolder", ident, size, n_workers)
    data = load_dataset(name, root, download, size)
    assert data is not None  # the train split
    ds = TensorDataset(data.images, data.labels)
    n_workers = 0 if workers is None else workers  # the arrays are in memory already: nothing to decode
    return StreamData(ds, data.shape, data.num_classes, name, fingerprint(data), None, n_workers)
