"""Sampling a generator and measuring it: the numbers the loop logs at evaluation steps and
``gankit eval`` prints (toy targets: exact JSD and mode statistics; images: the metrics of
``gankit.metrics`` on the features of a feature network, with floors from held-out real images)."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn

from .config import MIN_EVAL_SAMPLES, Config
from .errors import GankitError
from .data import ImageData, load_splits, to_uint8
from .distributions import GaussianMixture
from .files import write_atomic
from .features import FeatureNet, cache_dir, data_hash, get_feature_net
from .metrics import (density_coverage, frechet_distance, gaussian_stats, inception_score, kernel_distance,
                      precision_recall)
from .metrics.toy import grid_edges, grid_jsd, histogram_masses, mode_stats
from .theory import pushforward_masses_1d

__all__ = ["generate", "run_generator", "truncated_noise", "evaluate_toy", "IMAGE_METRICS", "feature_metrics",
           "ImageEvaluator", "image_evaluator", "sample_uint8"]


def truncated_noise(n: int, z_dim: int, truncation: float | None, gen: torch.Generator | None) -> Tensor:
    """z ~ N(0, I) [n, z_dim]; with ``truncation`` T, entries with |z| > T are redrawn until within
    (the truncation trick of BigGAN, Brock et al. 2019: fidelity for diversity)."""
    z = torch.randn(n, z_dim, generator=gen)
    if truncation is not None:
        if truncation <= 0:
            raise ValueError("truncation must be positive")
        while (bad := z.abs() > truncation).any():
            z[bad] = torch.randn(int(bad.sum()), generator=gen)
    return z


@torch.no_grad()
def run_generator(G: nn.Module, z: Tensor, y: Tensor | None = None, chunk: int = 65536) -> Tensor:
    """G(z[, y]) in eval mode (batch norm on its running statistics), chunk by chunk, as a CPU
    float32 tensor; G's train/eval mode is restored afterwards."""
    param = next(G.parameters())
    was_training = G.training
    G.eval()
    ys = [None] * len(z.split(chunk)) if y is None else [c.to(param.device) for c in y.split(chunk)]
    out = torch.cat([G(c.to(param.device, param.dtype), yc).float().cpu() for c, yc in zip(z.split(chunk), ys)])
    G.train(was_training)
    return out


def generate(G: nn.Module, n: int, z_dim: int, seed: int | None = None, y: Tensor | None = None,
             truncation: float | None = None) -> Tensor:
    """n samples of G as a CPU float32 tensor [n, ...]; z ~ N(0, I) from its own generator.

    ``y`` [n] are class labels for a conditional G. With a seed the same call gives the same
    samples, and the global RNG (which drives training) is left untouched.
    """
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    return run_generator(G, truncated_noise(n, z_dim, truncation, gen), y)


def evaluate_toy(
    G: nn.Module, target: GaussianMixture, z_dim: int, n_modes: int = 2500, n_jsd: int = 50000, seed: int = 12345
) -> dict[str, float]:
    """Toy metrics of G against its target.

    ``toy/jsd``: JSD(p_data ‖ p_g) in nats between cell masses (400 bins in 1-D, 64×64 in 2-D,
    over the box holding the target's mass ± 6σ). p_data's masses are exact; p_g's come from
    pushing a quadrature grid over z through G when both are 1-D, else from ``n_jsd`` samples.
    For targets with separate modes, the VEEGAN/PacGAN protocol on ``n_modes`` samples:
    ``toy/high_quality``, ``toy/modes``, ``toy/kl_uniform``.
    """
    lo, hi = target.bounds()
    edges = grid_edges(lo, hi, 400 if target.dim == 1 else 64)
    p = target.cell_masses(edges)
    if target.dim == 1 and z_dim == 1:
        q = pushforward_masses_1d(G, edges[0], n_z=2**18)
    else:
        q = histogram_masses(generate(G, n_jsd, z_dim, seed=seed), edges)
    out = {"toy/jsd": grid_jsd(p, q)}
    if target.discrete_modes:
        x = generate(G, n_modes, z_dim, seed=seed + 1)
        ms = mode_stats(x, target.means, target.stds[:, 0])
        out.update({f"toy/{k}": v for k, v in ms.items()})
    return out


# --- image metrics -------------------------------------------------------------------------------------

#: Each image metric and which way is better ("higher" for density means towards and past 1).
IMAGE_METRICS = {"fid": "lower", "kid": "lower", "is": "higher", "precision": "higher", "recall": "higher",
                 "density": "higher", "coverage": "higher"}
REF_SUBSET = 10000  # reference points kept for KID and the k-NN metrics (FID's μ, Σ use all of them)


def feature_metrics(ref: dict[str, np.ndarray], feats: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """Every image metric of one sample set: its features [N, D] and class probabilities [N, K] against the
    reference statistics ``ref`` (``mu`` [D], ``sigma`` [D, D], ``feats`` [M, D], a seeded subset)."""
    mu, sigma = gaussian_stats(feats)
    m = min(len(ref["feats"]), len(feats))  # equal set sizes for the k-NN metrics: their values depend on size
    precision, recall = precision_recall(ref["feats"][:m], feats[:m], k=3)
    density, coverage = density_coverage(ref["feats"][:m], feats[:m], k=5)
    return {
        "fid": frechet_distance(ref["mu"], ref["sigma"], mu, sigma),
        "kid": kernel_distance(ref["feats"], feats)[0],
        "is": inception_score(probs)[0],
        "precision": precision, "recall": recall, "density": density, "coverage": coverage,
    }


@dataclass
class ImageEvaluator:
    """A feature network with the cached statistics of a dataset's reference split and its floor.

    ``floor`` holds the metrics of the held-out real images (``n_floor`` of them) against the
    reference: what a generator indistinguishable from the data would read.
    """

    net: FeatureNet
    ref: dict[str, np.ndarray]
    floor: dict[str, float]
    n_floor: int
    split: str

    def __call__(self, G: nn.Module, z_dim: int, num_classes: int, n: int, seed: int = 777) -> dict[str, float]:
        """The metrics of n samples of G (see :func:`sample_uint8`)."""
        return self.measure(sample_uint8(G, z_dim, num_classes, n, seed))

    def measure(self, images: Tensor) -> dict[str, float]:
        """Every image metric of uint8 images [n, C, H, W] against the reference."""
        return feature_metrics(self.ref, *self.net(images))


def sample_uint8(G: nn.Module, z_dim: int, num_classes: int, n: int, seed: int = 777,
                 part: slice = slice(None)) -> Tensor:
    """Rows ``part`` of the n evaluation samples of G: classes in turn when conditional, seeded noise
    of their own (the training RNG is untouched), quantised to uint8 as saved images are. Data-parallel
    processes each draw their part of the same n samples, so the gathered set is the one-process set."""
    z = truncated_noise(n, z_dim, None, torch.Generator().manual_seed(seed))[part]  # [n, z_dim] → its rows
    y = (torch.arange(n) % num_classes)[part] if num_classes else None
    return to_uint8(run_generator(G, z, y))


def _cached_json(path: Path, compute: Callable[[], dict]) -> dict:
    if path.is_file():
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):  # a damaged cache entry: computed again below
            pass
    out = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(out))
    return out


def image_evaluator(cfg: Config, features: str = "classifier", n: int | None = None, device: str | torch.device = "cpu",
                    log: Callable[[str], None] | None = None, train: ImageData | None = None,
                    **feature_kwargs) -> ImageEvaluator:
    """The evaluator of an image run's dataset with feature network ``features``; ``train``: the
    dataset's train split when the caller has it loaded already (training does).

    Reference statistics and floors are cached (``gankit.features.cache_dir()``) under the feature
    network and the data's content hash; the floor uses min(n, held-out size) images (default: all
    held-out images, at most 10,000).
    """
    d = cfg.data
    reference, held, split = load_splits(d.name, d.root, d.download, d.resolution, train=train)
    if min(len(reference.images), len(held.images)) < MIN_EVAL_SAMPLES:
        raise GankitError(f"{d.name}: too few images for the image metrics ({len(reference.images)} reference, "
                          f"{len(held.images)} held out; at least {MIN_EVAL_SAMPLES} each)")
    net = get_feature_net(features, reference, held, device=device, log=log, **feature_kwargs)
    n_floor = min(n or REF_SUBSET, len(held.images))
    ref_hash = data_hash(reference)
    ref_path = cache_dir() / f"ref-{net.key}-{ref_hash}.npz"
    ref = None
    if ref_path.is_file():
        try:
            with np.load(ref_path) as z:
                ref = {k: z[k] for k in ("mu", "sigma", "feats")}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):  # a damaged cache entry: computed again
            ref = None
    if ref is None:
        if log is not None:
            log(f"features of {len(reference.images)} reference images ({net.name})")
        feats, _ = net(reference.images)
        mu, sigma = gaussian_stats(feats)
        keep = np.random.default_rng(0).permutation(len(feats))[:REF_SUBSET]
        ref = {"mu": mu, "sigma": sigma, "feats": feats[keep]}
        ref_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(ref_path, lambda f: np.savez(f, **ref))
    floor_path = cache_dir() / f"floor2-{net.key}-{ref_hash}-{data_hash(held)}-{n_floor}.json"
    # a seeded random subset: the held-out images may be sorted by class (image folders are)
    pick = torch.randperm(len(held.images), generator=torch.Generator().manual_seed(0))[:n_floor].sort().values
    floor = _cached_json(floor_path, lambda: feature_metrics(ref, *net(held.images[pick])))
    return ImageEvaluator(net, ref, floor, n_floor, split)
