"""Feature networks for the image metrics, chosen by name; every number says which one made it.

- ``classifier``: a small CNN that gankit trains on the real images of the dataset at hand (its
  reference split), cached on disk under the SHA-256 of those images and labels, with its accuracy on
  the held-out split recorded. Its penultimate layer (128-d) gives the features of FID, KID and
  precision/recall/density/coverage; its softmax gives a classifier-based Inception Score. Works
  offline on every dataset, but its numbers compare only with numbers from the same classifier.
- ``inception``: the Inception-v3 of FID (the TensorFlow 2015-12-05 weights), as torch-fidelity
  implements it, with its TF1-compatible bilinear resize to 299×299: pool3 (2048-d) features,
  ``logits_unbiased`` for IS. Its numbers are the standard ones. The weights come from a path, from
  the torch hub cache, or (only when asked) from the internet; when absent, a clear error.

A feature network maps uint8 images [N, C, H, W] to ``features`` [N, D] and ``probs`` [N, K] (NumPy).
"""

from __future__ import annotations

import hashlib
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np
import torch
from torch import Tensor, nn

from .data import ImageData, fingerprint as data_hash, to_model_range
from .errors import GankitError
from .registry import FEATURES

__all__ = [
    "FeatureNet",
    "FEATURES",
    "FEATURE_DIMS",
    "get_feature_net",
    "cache_dir",
    "data_hash",
    "Classifier",
    "train_classifier",
    "INCEPTION_FILE",
    "content_digest",
    "tensor_parts",
    "classifier_digest",
]

CLASSIFIER_VERSION = 1  # bump when the classifier's architecture or training changes: new cache keys
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"  # torch-fidelity's name in the hub cache
FEATURE_DIMS = {"classifier": 128, "inception": 2048}  # D of each network's features


def cache_dir() -> Path:
    """Where trained classifiers and reference statistics are kept: ``$GANKIT_CACHE`` or ~/.cache/gankit."""
    return Path(os.environ.get("GANKIT_CACHE") or Path.home() / ".cache" / "gankit")


def content_digest(name: str, parts: Iterable[bytes | str]) -> str:
    """SHA-256 (hex) of a cache entry's content, bound to the entry's file name ``name``.

    Every cache entry stores the digest of its own content and is checked against it when read: a
    well-formed but hand-edited entry (a negated Σ, a floor of −5) or one copied under another entry's
    name does not check out, where range checks alone would let many such edits through. Each part is
    length-prefixed, so no two different sequences of parts hash alike."""
    h = hashlib.sha256(name.encode())
    for part in parts:
        b = part.encode() if isinstance(part, str) else bytes(part)
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def tensor_parts(weights: Mapping[str, Tensor]) -> list[bytes | str]:
    """The parts of a state dict for :func:`content_digest`: each tensor's name, dtype, shape and raw bytes,
    in name order (the bytes as stored, so the digest is exact for every dtype)."""
    parts: list[bytes | str] = []
    for k in sorted(weights):
        t = weights[k].detach().cpu().contiguous()
        parts += [k, str(t.dtype), str(tuple(t.shape)), t.reshape(-1).view(torch.uint8).numpy().tobytes()]
    return parts


@dataclass
class FeatureNet:
    """A feature network: ``embed(uint8 [n, C, H, W]) → (features [n, D], logits [n, K])`` on one chunk."""

    name: str
    info: str  # one line: which network, trained on what, how good
    key: str  # identity for caches of reference statistics
    embed: Callable[[Tensor], tuple[Tensor, Tensor]]
    batch: int = 500
    dim: int | None = None  # D of the features, when known: cached reference statistics must have it
    classes: int | None = None  # K of the class probabilities, when known (for memory estimates)

    @torch.no_grad()
    def __call__(self, images: Tensor) -> tuple[np.ndarray, np.ndarray]:
        """(features [N, D] float64, class probabilities [N, K] float64) of uint8 images [N, C, H, W]."""
        feats, probs = [], []
        for chunk in images.split(self.batch):
            f, logits = self.embed(chunk)
            feats.append(f.double().cpu())
            probs.append(torch.softmax(logits.double(), dim=1).cpu())
        return torch.cat(feats).numpy(), torch.cat(probs).numpy()


# FEATURES is gankit.registry's, which declares these names so that a config is checked without torch


# --- classifier ------------------------------------------------------------------------------------


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Classifier(nn.Module):
    """A small CNN: conv 32 → (pool) → conv 64 → pool → conv 128 → global average → 128-d features → K.

    Pooling stops at 8×8, so 8×8 digits and 64×64 images use the same layers. ``forward`` gives
    (features [n, 128], logits [n, K]) for images [n, C, H, W] in [−1, 1].
    """

    def __init__(self, channels: int, size: int, num_classes: int):
        super().__init__()
        layers: list[nn.Module] = [_block(channels, 32)]
        if size >= 16:
            layers.append(nn.MaxPool2d(2))
        layers += [_block(32, 64), nn.MaxPool2d(2), _block(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(128, num_classes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        f = self.body(x)  # [n, 128]
        return f, self.head(f)


def _accuracy(net: Classifier, data: ImageData) -> float:
    net.eval()
    with torch.no_grad():
        pred = torch.cat([net(to_model_range(c))[1].argmax(1) for c in data.images.split(500)])
    return float((pred == data.labels).float().mean())


def train_classifier(
    train: ImageData, test: ImageData, seed: int = 0, log: Callable[[str], None] | None = None
) -> tuple[Classifier, float]:
    """Train the classifier on ``train`` (Adam, one-cycle LR, ±1/8-image random shifts, about 2 epochs,
    300–2,000 steps of 128) and return it in eval mode with its accuracy on ``test``.

    Runs under its own RNG (``torch.random.fork_rng``): training a classifier mid-run never changes
    the GAN's random stream.
    """
    c, h, _ = train.shape
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(seed)  # the CPU stream only: CUDA's is the GAN's
        net = Classifier(c, h, train.num_classes)
        batch = 128
        steps = int(min(max(300, math.ceil(2 * len(train.images) / batch)), 2000))
        opt = torch.optim.Adam(net.parameters(), lr=2e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
        shift = max(1, h // 8)
        net.train()
        for step in range(steps):
            idx = torch.randint(len(train.images), (batch,))
            x = to_model_range(train.images[idx])  # [B, C, H, W]
            dx, dy = torch.randint(-shift, shift + 1, (2,)).tolist()  # one shift per batch: cheap, enough
            x = torch.roll(x, (dy, dx), dims=(2, 3))
            loss = nn.functional.cross_entropy(net(x)[1], train.labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if log is not None and (step + 1) % 250 == 0:
                log(f"classifier step {step + 1}/{steps}, loss {loss.item():.3f}")
    acc = _accuracy(net, test)
    return net.eval(), acc


class _Unusable(Exception):
    """A cache entry that does not check out; its message says why."""


def classifier_digest(name: str, weights: Mapping[str, Tensor], acc: float, num_classes: int) -> str:
    """The digest a cached classifier entry (file name ``name``) stores of its weights, accuracy and
    class count (:func:`content_digest`)."""
    return content_digest(name, [float(acc).hex(), str(num_classes), *tensor_parts(weights)])


def _classifier_problem(net: Classifier) -> str | None:
    """Why loaded classifier weights cannot be used (None when they can): every floating tensor finite,
    and every BatchNorm's running variance positive (a variance is ≥ 0, and its running average starts
    at 1 and mixes in batch variances, so it stays > 0; ≤ 0 later makes √var non-real or infinite)."""
    for k, t in net.state_dict().items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            return f"non-finite weights ({k})"
        if k.endswith("running_var") and not bool((t > 0).all()):
            return f"a BatchNorm running variance that is not positive ({k})"
    return None


def _load_classifier(path: Path, channels: int, size: int, num_classes: int) -> tuple[Classifier, float]:
    """The cached classifier at ``path`` and its recorded accuracy; :class:`_Unusable` when the file is
    damaged, was written for other data or another architecture, does not match the digest it stores
    (edited by hand, or written by a gankit that stored none), or holds weights no trained classifier has."""
    from .checkpoint import load_checkpoint

    try:
        state = load_checkpoint(path, required=("net", "accuracy"))
    except GankitError as e:
        raise _Unusable(str(e)) from None
    acc, weights = state["accuracy"], state["net"]
    if isinstance(acc, bool) or not isinstance(acc, (int, float)) or not 0 <= acc <= 1:  # NaN fails 0 <= acc
        raise _Unusable(f"accuracy {acc!r} is not a number in [0, 1]")
    if state.get("num_classes", num_classes) != num_classes:
        raise _Unusable(f"{state.get('num_classes')!r} classes, the data has {num_classes}")
    if not isinstance(weights, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in weights.items()):
        raise _Unusable("its weights are not a mapping of names to tensors")
    if not isinstance(state.get("digest"), str):
        raise _Unusable("it stores no digest of its content (an entry of an older gankit)")
    if state["digest"] != classifier_digest(path.name, weights, acc, num_classes):
        raise _Unusable("its content does not match its digest (edited or damaged)")
    with torch.random.fork_rng(devices=[]):  # initial weights, overwritten: leave the caller's RNG alone
        net = Classifier(channels, size, num_classes)
    try:
        net.load_state_dict(weights)
    except RuntimeError as e:  # missing or unexpected keys, weights of another shape
        raise _Unusable(f"its weights do not fit the classifier: {str(e).strip().splitlines()[0][:120]}") from None
    why = _classifier_problem(net)
    if why is not None:
        raise _Unusable(why)
    return net, float(acc)


def _cache_classifier(
    net: Classifier, acc: float, num_classes: int, path: Path, log: Callable[[str], None] | None
) -> None:
    """Save the classifier to its cache entry, with the digest of its content; a cache that cannot be
    written costs only a retraining next time, so it is said in the log and the evaluation goes on."""
    from .checkpoint import save_checkpoint

    weights = net.state_dict()
    digest = classifier_digest(path.name, weights, acc, num_classes)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint({"net": weights, "accuracy": acc, "num_classes": num_classes, "digest": digest}, path)
    except (OSError, GankitError) as e:
        if log is not None:
            log(f"cannot cache the classifier in {path}: {getattr(e, 'strerror', None) or e}; going on without it")


@FEATURES.register("classifier")
def classifier_features(
    reference: ImageData,
    held_out: ImageData,
    device: torch.device | str = "cpu",
    log: Callable[[str], None] | None = None,
    **_,
) -> FeatureNet:
    """The classifier trained on ``reference`` (cached by its content hash), tested on ``held_out``.

    A cached classifier that does not check out (damaged file, wrong keys or shapes, content that does
    not match its stored digest, non-finite weights, a BatchNorm variance ≤ 0, an accuracy outside
    [0, 1]) is trained again and re-cached, with a log line saying so."""
    key = f"classifier-v{CLASSIFIER_VERSION}-{data_hash(reference)}"
    path = cache_dir() / f"{key}.pt"
    c, h = reference.shape[:2]  # not `c, h, _`: `_` holds the ignored keyword arguments
    say = log if log is not None else (lambda line: None)
    net, stale = None, None
    if path.exists():
        try:
            net, acc = _load_classifier(path, c, h, reference.num_classes)
        except _Unusable as e:
            stale = str(e)
            say(f"cached classifier {path} is unusable ({stale}); training it again")
    if net is None:
        if stale is None:
            say(f"training the {reference.name} classifier (once; cached in {path})")
        net, acc = train_classifier(reference, held_out, log=log)
        _cache_classifier(net, acc, reference.num_classes, path, log)
        if stale is not None:
            say(f"classifier rebuilt and re-cached in {path} (held-out accuracy {acc:.4f})")
    net = net.eval().to(device)

    def embed(x: Tensor) -> tuple[Tensor, Tensor]:
        return net(to_model_range(x.to(device)))

    info = (
        f"gankit classifier v{CLASSIFIER_VERSION} for {reference.name} {h}×{h} "
        f"(held-out accuracy {acc:.4f}, data sha {key.rsplit('-', 1)[1]})"
    )
    return FeatureNet("classifier", info, key, embed, dim=FEATURE_DIMS["classifier"], classes=reference.num_classes)


# --- inception ---------------------------------------------------------------------------------------


def _inception_weights(path: str | None, download: bool) -> str | None:
    """A local weights file (given, or in the torch hub cache), None to download; else a clear error."""
    if path:
        if not Path(path).is_file():
            raise GankitError(f"inception weights not found: {path}")
        return path
    cached = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    if cached.is_file():
        return str(cached)
    if download:
        return None
    raise GankitError(
        f"Inception-v3 weights for FID not found (looked for {cached}); pass --inception-weights "
        f"FILE ({INCEPTION_FILE}, as torch-fidelity publishes it), or --download when online; "
        "or use --features classifier, which works offline"
    )


def _check_inception_file(file: str) -> None:
    """One GankitError line unless ``file`` holds a state dict (names → finite tensors) that loads
    weights-only. torch-fidelity unpickles without restriction, so it is only ever handed a file that
    passed here; and torch's own refusal text suggests loading with weights_only=False, the unsafe way,
    so the line gives gankit's reason (:func:`gankit.checkpoint.refusal`) instead."""
    from .checkpoint import refusal

    try:
        with warnings.catch_warnings():  # torch's notes on pickle protocols are not the user's business
            warnings.simplefilter("ignore")
            sd = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:  # an unsafe pickle, a truncated or foreign file: torch raises many types
        raise GankitError(f"cannot load inception weights {file}: {refusal(e)}") from None
    what = (
        f"a {type(sd).__name__}"
        if not isinstance(sd, Mapping)
        else "an empty mapping"
        if not sd
        else None
        if all(isinstance(k, str) and torch.is_tensor(v) for k, v in sd.items())
        else "a mapping whose entries are not all names of tensors"
    )
    if what is not None:
        raise GankitError(
            f"cannot load inception weights {file}: it holds {what}, not a state dict "
            "(a mapping of parameter names to tensors)"
        )
    bad = next((k for k, v in sd.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())), None)
    if bad is not None:
        raise GankitError(f"cannot load inception weights {file}: non-finite values in {bad}")


@FEATURES.register("inception")
def inception_features(
    reference: ImageData | None = None,
    held_out: ImageData | None = None,
    device: torch.device | str = "cpu",
    weights: str | None = None,
    download: bool = False,
    **_,
) -> FeatureNet:
    """torch-fidelity's FID Inception-v3: 2048-d pool3 features and 1008-way unbiased logits.

    Grey images are repeated to three channels; resizing to 299 is the network's own.
    """
    file = _inception_weights(weights, download)
    if file is not None:
        _check_inception_file(file)
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    try:
        net = FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048", "logits_unbiased"], feature_extractor_weights_path=file
        ).to(device)
    except (OSError, RuntimeError) as e:  # failed download, or a state dict of another network
        raise GankitError(f"cannot build the FID Inception-v3: {str(e).strip().splitlines()[0][:160]}") from None

    def embed(x: Tensor) -> tuple[Tensor, Tensor]:
        x = x.to(device)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        f, logits = net(x)
        return f, logits

    digest = hashlib.sha256(Path(file).read_bytes()).hexdigest()[:16] if file else "downloaded"
    info = f"Inception-v3 (FID, TF 2015-12-05 weights via torch-fidelity; 2048-d pool3; weights sha {digest})"
    return FeatureNet(
        "inception", info, f"inception-{digest}", embed, batch=100, dim=FEATURE_DIMS["inception"], classes=1008
    )


def get_feature_net(name: str, reference: ImageData, held_out: ImageData, **kwargs) -> FeatureNet:
    """Build the feature network registered as ``name`` for a dataset (reference and held-out splits)."""
    return FEATURES[name](reference=reference, held_out=held_out, **kwargs)
