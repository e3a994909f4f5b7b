"""Measuring a generator: the numbers the loop logs at evaluation steps and ``gankit eval`` prints
(toy targets: exact JSD and mode statistics; images: the metrics of ``gankit.metrics`` on the
features of a feature network, with floors from held-out real images), the records eval.json holds,
and the cached reference statistics and floors they are measured against."""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn

from . import distributed
from .config import MIN_EVAL_SAMPLES, Config
from .errors import GankitError
from .data import ImageData, load_splits
from .distributions import GaussianMixture
from .files import write_atomic
from .features import FEATURE_DIMS, FeatureNet, cache_dir, content_digest, data_hash, get_feature_net
from .generate import GEN_CHUNK_BYTES, generate, sample_uint8
from .metrics import (
    density_coverage,
    frechet_distance,
    gaussian_stats,
    inception_score,
    kernel_distance,
    mode_coverage,
    precision_recall,
)
from .metrics.toy import grid_edges, grid_jsd, histogram_masses, mode_stats
from .exact import pushforward_masses_1d

__all__ = [
    "evaluate_toy",
    "IMAGE_METRICS",
    "feature_metrics",
    "ImageEvaluator",
    "image_evaluator",
    "eval_bytes",
    "floor_problem",
    "reference_problem",
    "toy_record",
    "image_record",
    "with_generators",
    "json_number",
    "floor_bounds",
    "reference_digest",
    "floor_digest",
    "TrainingEvaluation",
    "training_evaluation",
    "MODE_METRICS",
    "ModeCounter",
]


def eval_bytes(
    n: int,
    z_dim: int,
    shape: tuple[int, ...],
    features: str = "inception",
    classes: int = 1008,
    modes: int = 25,
    chunk_bytes: int = GEN_CHUNK_BYTES,
) -> int:
    """About the most memory an evaluation of n samples holds at once (what ``gankit eval --n`` and
    train.eval_samples must fit in); ``chunk_bytes``: G's working chunk (see :func:`generator_chunk`).

    Images (``shape`` = (C, H, W)), per sample: the noise (float32), the image kept as uint8 (G's
    float32 output is quantised chunk by chunk, :func:`sample_uint8`), its features [D] and class
    probabilities [K] in float64, each twice while chunks are joined, and the features once more
    when centred for FID's Σ. Plus what does not grow with n: the feature network's working batch
    (500 images through the classifier's first 32-channel block, three activations alive; 100
    images through Inception at 299×299), the reference statistics (up to 10,000 × D features, Σ),
    a 1,024-row chunk of the k-NN distance matrices with its temporaries, and KID's 1,000 × 1,000
    kernels. Toy targets (``shape`` = (dims,)), per sample: noise and float32 point, its float64
    copy, distances to the ``modes`` mode centres and a few per-sample vectors; plus the 50,000
    samples of the JSD grid.
    """
    per_z = 4 * z_dim
    if len(shape) == 1:
        per = per_z + 12 * shape[0] + 8 * modes + 32
        return n * per + 50000 * (per_z + 16 * shape[0]) + chunk_bytes
    c, h, w = shape
    dim = FEATURE_DIMS.get(features, 2048)
    per = per_z + c * h * w + 3 * 8 * dim + 2 * 8 * classes
    work = 100 * (3 * 299 * 299 + 3 * 32 * 149 * 149) * 4 if features == "inception" else 500 * 3 * 32 * h * w * 4
    m = min(n, REF_SUBSET)
    knn = 3 * 8 * min(m, 1024) * m
    ref = REF_SUBSET * dim * 8 + 2 * dim * dim * 8
    return n * per + chunk_bytes + work + knn + ref + 4 * 8 * 1000 * 1000


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


def json_number(v) -> int | float | None:
    """A metric value as JSON can hold it: an int stays an int (NumPy's too), a finite real number becomes
    a float (a 0-d tensor too), and anything else (NaN, ±inf, a number beyond float's range, a string,
    not a number at all) becomes None, JSON's null. JSON has no NaN: ``json.dumps`` writes a bare ``NaN``
    that strict parsers refuse. Never raises."""
    if isinstance(v, (bool, str, bytes)):  # float("1") would parse a string: a metric value is never one
        return None
    if isinstance(v, numbers.Integral):
        return int(v)
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def toy_record(vals: dict[str, float], n: int, step: int) -> dict:
    """The eval.json record of a toy run's exact-density metrics (``vals`` from :func:`evaluate_toy`, the
    mode statistics on n samples): no feature network and no floor, since p_data is known exactly. A value
    that is not a finite number (kl_uniform when no sample is high-quality) is None (:func:`json_number`)."""
    return {
        "features": "none",
        "features_info": "exact densities (no feature network)",
        "n": n,
        "step": step,
        "split": "exact target",
        "metrics": {
            k.split("/")[1]: {
                "value": json_number(v),
                "floor": None,
                "better": "higher" if k.endswith(("high_quality", "modes")) else "lower",
            }
            for k, v in vals.items()
        },
    }


def with_generators(record: dict, generator: str, raw: dict[str, float] | None = None) -> dict:
    """``record`` (from :func:`toy_record` or :func:`image_record`, measured on ``generator``: "G_ema" or
    "G") naming its generator, and with each metric's value for the raw G beside it (``raw``, keyed as
    ``record["metrics"]``) when the run keeps an EMA: whether the average helps is then on the page."""
    out = {**record, "generator": generator}
    if raw is not None:
        out["metrics"] = {k: {**m, "raw": json_number(raw.get(k))} for k, m in record["metrics"].items()}
    return out


# --- image metrics -------------------------------------------------------------------------------------

#: Each image metric and which way is better. Density is not "higher": Naeem et al. (2020) define it as
#: (1/kM) Σ_j Σ_i 1[Y_j ∈ B(X_i, NND_k(X_i))], whose expectation is 1 when the fakes Y follow the real
#: distribution; above 1 means samples crowd around real points (less diversity), below 1 that they
#: stray from them. So its ideal, like its floor, is 1.
IMAGE_METRICS = {
    "fid": "lower",
    "kid": "lower",
    "is": "higher",
    "precision": "higher",
    "recall": "higher",
    "density": "near 1",
    "coverage": "higher",
}
#: StackedMNIST's mode metrics (data.name stacked_mnist), measured beside the image metrics.
MODE_METRICS = {"modes": "higher", "kl_uniform": "lower"}
_BETTER = {**IMAGE_METRICS, **MODE_METRICS}  # which way is better, for every metric an image record holds
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
        "precision": precision,
        "recall": recall,
        "density": density,
        "coverage": coverage,
    }


@dataclass
class ModeCounter:
    """StackedMNIST's protocol: each colour channel of a sample labelled by ``net`` (gankit's MNIST
    classifier), the mode 100·a + 10·b + c, then :func:`gankit.metrics.mode_coverage` over 1,000 modes.
    ``floor``: the same on the held-out real stacked images (``n_floor`` of them)."""

    net: FeatureNet
    floor: dict[str, float]
    n_floor: int

    def labels(self, images: Tensor) -> np.ndarray:
        """The modes [N] of uint8 stacked images [N, 3, H, W]."""
        digits = [self.net(images[:, k : k + 1])[1].argmax(axis=1) for k in range(3)]  # 3 × [N]
        return 100 * digits[0] + 10 * digits[1] + digits[2]

    def measure(self, images: Tensor) -> dict[str, float]:
        """{"modes", "kl_uniform"} of uint8 stacked images [N, 3, H, W]."""
        return mode_coverage(self.labels(images), 1000)


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
    modes: ModeCounter | None = None  # StackedMNIST: its mode metrics too

    def __call__(
        self, G: nn.Module, z_dim: int, num_classes: int, n: int, seed: int = 777, chunk: int = 65536
    ) -> dict[str, float]:
        """The metrics of n samples of G (see :func:`sample_uint8`)."""
        return self.measure(sample_uint8(G, z_dim, num_classes, n, seed, chunk=chunk))

    def measure(self, images: Tensor) -> dict[str, float]:
        """Every image metric of uint8 images [n, C, H, W] against the reference (and the mode metrics on
        StackedMNIST)."""
        vals = feature_metrics(self.ref, *self.net(images))
        return {**vals, **self.modes.measure(images)} if self.modes is not None else vals

    def floor_of(self, metric: str) -> float:
        """The floor of one metric: the held-out real images' value."""
        if metric in MODE_METRICS and self.modes is not None:
            return self.modes.floor[metric]
        return self.floor[metric]


def image_record(ev: "ImageEvaluator", vals: dict[str, float], n: int, step: int, data_name: str) -> dict:
    """The eval.json record of image metrics on n samples (``vals`` from ``ev``), each beside its floor,
    naming the feature network and the split: ``{"features", "features_info", "n", "step", "split",
    "metrics": {name: {"value", "floor", "better"}}}``. A value that is not a finite number is None
    (:func:`json_number`), so the record is valid JSON."""
    return {
        "features": ev.net.name,
        "features_info": ev.net.info,
        "n": n,
        "step": step,
        "split": f"{data_name}: {ev.split} ({ev.n_floor} held-out images for the floor)",
        "metrics": {
            k: {
                "value": json_number(v),
                "floor": json_number(ev.floor_of(k)),
                "better": _BETTER[k],
            }
            for k, v in vals.items()
        },
    }


def _say(log: Callable[[str], None] | None, line: str) -> None:
    if log is not None:
        log(line)


def _cache_write(path: Path, data, log: Callable[[str], None] | None) -> None:
    """Write a cache entry atomically; a cache that cannot be written (read-only, full) costs only the
    time to compute it again next time, so it is said in the log and the evaluation goes on."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)
    except OSError as e:
        _say(log, f"cannot cache {path}: {e.strerror or e}; going on without it")


def _as_real(v) -> float | None:
    """v as a float when it is a real number that float holds (bool is not; a 400-digit integer
    overflows float and is not), else None; never raises."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        return float(v)
    except OverflowError:
        return None


def floor_bounds(
    ref: dict[str, np.ndarray] | None = None, n_floor: int | None = None, classes: int | None = None
) -> dict[str, tuple[float, float]]:
    """The range each floor metric can take, from its math (``ref``: the reference statistics the floor
    was measured against, ``n_floor`` held-out images, ``classes`` K of the feature network):

    - fid ≥ 0 (a squared distance; :func:`gankit.metrics.frechet_distance` clips rounding at 0);
    - precision, recall, coverage in [0, 1] (shares);
    - is in [1, K] (exp of a mean KL divergence ≥ 0, at most exp(H(y)) ≤ K), up to rounding;
    - density in [0, m/k] (each of the fakes lies in at most all m real k-NN balls; k = 5, m = the k-NN set
      size min(reference features, n_floor));
    - kid ≥ −4·max k(x, x)/m over the reference features x (m = KID's subset size): unbiased MMD² can be
      negative, but not by much. With A, B the sums of k over distinct pairs within each subset, the biased
      MMD² ≥ 0 gives MMD²_u ≥ (A + B)/(m²(m−1)) − (mean k(x, x) + mean k(y, y))/m. Both feature networks'
      features are non-negative (averages after a ReLU), so k ≥ 1, A + B ≥ 0, and a true floor falls below
      the bound only if the held-out images' mean k(y, y) exceeds three times the largest of the reference
      (real images of the same data); for features of any sign |k(x, y)| ≤ the larger diagonal (Cauchy–
      Schwarz) bounds (A + B) too, and the bound holds while no held-out diagonal exceeds the reference's.
    """
    big = math.inf
    b = {
        "fid": (0.0, big),
        "kid": (-big, big),
        "is": (1 - 1e-9, big),
        "precision": (0.0, 1.0),
        "recall": (0.0, 1.0),
        "density": (0.0, big),
        "coverage": (0.0, 1.0),
    }
    if classes:
        b["is"] = (1 - 1e-9, classes * (1 + 1e-9))
    if ref is not None and n_floor:
        feats = np.asarray(ref["feats"], np.float64)
        m = min(len(feats), n_floor)
        b["density"] = (0.0, m / 5 * (1 + 1e-12))
        with np.errstate(all="ignore"):  # a non-finite bound checks nothing: the entry is read as it stands
            diag = ((feats * feats).sum(1) / feats.shape[1] + 1) ** 3  # KID's kernel (a·b/D + 1)³ at a = b
            low = -4 * float(diag.max()) / min(1000, m) if len(diag) else -big
        b["kid"] = (low if math.isfinite(low) else -big, big)
    return b


def floor_problem(floor, bounds: dict[str, tuple[float, float]] | None = None) -> str | None:
    """Why a floor cannot be used (None when it can): it must map every metric of :data:`IMAGE_METRICS`
    to a finite number within ``bounds`` (default: the ranges :func:`floor_bounds` gives without the
    reference). Never raises, whatever the values (a 400-digit integer is simply not a finite number)."""
    if not isinstance(floor, dict):
        return f"not a JSON object but {type(floor).__name__}"
    bounds = floor_bounds() if bounds is None else bounds
    for k in IMAGE_METRICS:
        v = _as_real(floor.get(k))
        if v is None or not math.isfinite(v):
            return f"{k!r} is {_short(floor.get(k))}, not a finite number"
        lo, hi = bounds[k]
        if not lo <= v <= hi:
            return f"{k!r} is {v:.6g}, outside the range [{lo:.6g}, {hi:.6g}] that {k} can take"
    return None


def _short(v) -> str:
    """repr(v) cut to 40 characters (a 400-digit number is not worth a whole line; one of more than 4,300
    digits cannot even be printed: Python refuses, with a ValueError)."""
    try:
        r = repr(v)
    except ValueError:
        return f"a {type(v).__name__} too long to print"
    return r if len(r) <= 40 else r[:37] + "..."


def floor_digest(name: str, floor: dict[str, float]) -> str:
    """The digest a cached floor entry (file name ``name``) stores of its metrics: of their canonical JSON
    (sorted keys, Python's shortest round-trip float repr), so a re-read value hashes as written."""
    return content_digest(name, [json.dumps({k: floor[k] for k in sorted(floor)}, allow_nan=False)])


def reference_digest(name: str, ref: dict[str, np.ndarray]) -> str:
    """The digest a cached reference entry (file name ``name``) stores of ``mu``, ``sigma`` and ``feats``:
    each one's dtype, shape and raw bytes."""
    parts: list[bytes | str] = []
    for k in ("mu", "sigma", "feats"):
        a = np.ascontiguousarray(ref[k])
        parts += [k, a.dtype.str, str(a.shape), a.tobytes()]
    return content_digest(name, parts)


def _sigma_problem(mu: np.ndarray, sigma: np.ndarray, feats: np.ndarray) -> str | None:
    """Why Σ is not the covariance of the reference features (None when it can be): it must be symmetric
    and positive semi-definite (up to rounding: eigenvalues ≥ −1e-9 of the largest), and agree with the
    kept features, a seeded subset of the same data (all of it up to 10,000 images): their total variance
    within a factor 2 of tr Σ, their mean within one standard deviation (√tr Σ) of μ."""
    if not np.allclose(sigma, sigma.T, rtol=1e-6, atol=1e-12):
        return "sigma is not symmetric"
    try:
        with np.errstate(all="ignore"):
            eig = np.linalg.eigvalsh((sigma + sigma.T) / 2)
    except (np.linalg.LinAlgError, ValueError) as e:
        return f"sigma's eigenvalues cannot be computed ({type(e).__name__})"
    top = float(np.abs(eig).max()) if eig.size else 0.0
    if not np.isfinite(eig).all() or eig.min(initial=0.0) < -1e-9 * top:
        return "sigma is not positive semi-definite"
    if len(feats) >= 2:
        with np.errstate(all="ignore"):
            tr_f, tr_s = float(feats.var(axis=0, ddof=1).sum()), float(np.trace(sigma))
            off = float(np.square(feats.mean(axis=0) - mu).sum())
        if not (tr_f <= 2 * tr_s + 1e-12 and tr_s <= 2 * tr_f + 1e-12 and off <= tr_s + 1e-12):
            return (
                f"mu and sigma do not fit the reference features (variance {tr_f:.6g} against tr sigma "
                f"{tr_s:.6g}, squared distance of the means {off:.6g})"
            )
    return None


def reference_problem(
    ref: dict[str, np.ndarray], dim: int | None, m: int | None, name: str | None = None
) -> str | None:
    """Why cached reference statistics cannot be used (None when they can): ``mu`` [D], ``sigma``
    [D, D], ``feats`` [M, D], real finite numbers, D = ``dim`` and M = ``m`` when given; with the entry's
    file ``name``, ``ref["digest"]`` must be :func:`reference_digest` of the content; Σ symmetric positive
    semi-definite and consistent with the features (:func:`_sigma_problem`)."""
    mu, sigma, feats = (np.asarray(ref[k]) for k in ("mu", "sigma", "feats"))
    for key, a, ndim in (("mu", mu, 1), ("sigma", sigma, 2), ("feats", feats, 2)):
        if a.ndim != ndim or not np.issubdtype(a.dtype, np.floating):
            return f"{key} is {a.dtype} of shape {a.shape}"
    d = len(mu)
    if sigma.shape != (d, d) or feats.shape[1:] != (d,) or (dim is not None and d != dim):
        return f"shapes do not match: mu {mu.shape}, sigma {sigma.shape}, feats {feats.shape}"
    if m is not None and len(feats) != m:
        return f"{len(feats)} reference features, expected {m}"
    if name is not None:
        digest = ref.get("digest")
        if digest is None:
            return "it stores no digest of its content (an entry of an older gankit)"
        if str(digest) != reference_digest(name, ref):
            return "its content does not match its digest (edited or damaged)"
    if not all(np.isfinite(a).all() for a in (mu, sigma, feats)):
        return "non-finite values"
    return _sigma_problem(mu.astype(np.float64), sigma.astype(np.float64), feats.astype(np.float64))


def _reference_stats(
    net: FeatureNet, reference: ImageData, path: Path, log: Callable[[str], None] | None
) -> dict[str, np.ndarray]:
    """The reference statistics of ``reference`` under ``net``: read from the cache ``path`` when the
    entry checks out (:func:`reference_problem`), else computed (and cached again, with its digest)."""
    m = min(REF_SUBSET, len(reference.images))
    why: str | None = "absent"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                ref = {k: np.asarray(z[k]) for k in ("mu", "sigma", "feats")}
                if "digest" in z.files:
                    ref["digest"] = np.asarray(z["digest"])
            why = reference_problem(ref, net.dim, m, name=path.name)
        except Exception as e:  # any damage (not a zip, a missing key, not an npz at all): recomputed below
            why = f"unreadable ({type(e).__name__})"
        if why is None:
            return {k: ref[k].astype(np.float64) for k in ("mu", "sigma", "feats")}
        _say(log, f"cached reference statistics {path} are unusable ({why}); computing them again")
    _say(log, f"features of {len(reference.images)} reference images ({net.name})")
    feats, _ = net(reference.images)
    mu, sigma = gaussian_stats(feats)
    keep = np.random.default_rng(0).permutation(len(feats))[:REF_SUBSET]
    ref = {"mu": mu, "sigma": sigma, "feats": feats[keep]}
    digest = np.array(reference_digest(path.name, ref))  # a unicode array: read back without pickle
    # keywords spelled out: numpy's stub reads a **dict as possibly naming savez's allow_pickle
    _cache_write(path, lambda f: np.savez(f, mu=ref["mu"], sigma=ref["sigma"], feats=ref["feats"], digest=digest), log)
    return ref


def _read_floor(path: Path, bounds: dict[str, tuple[float, float]]) -> tuple[dict[str, float] | None, str]:
    """(the cached floor at ``path``, "") when it checks out, else (None, why): a JSON object
    ``{"metrics": {...}, "digest": ...}`` whose metrics pass :func:`floor_problem` and match the digest."""
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as e:  # unreadable, not JSON (UnicodeDecodeError is a ValueError)
        return None, f"unreadable ({type(e).__name__})"
    if not isinstance(cached, dict) or not isinstance(cached.get("metrics"), dict):
        return None, "not an object with a 'metrics' object (an entry of an older gankit?)"
    metrics = cached["metrics"]
    why = floor_problem(metrics, bounds)
    if why is not None:
        return None, why
    floor = {k: float(metrics[k]) for k in IMAGE_METRICS}
    if not isinstance(cached.get("digest"), str):
        return None, "it stores no digest of its content (an entry of an older gankit)"
    if set(metrics) != set(IMAGE_METRICS) or cached["digest"] != floor_digest(path.name, metrics):
        return None, "its content does not match its digest (edited or damaged)"
    return floor, ""


def _floor(
    path: Path,
    compute: Callable[[], dict[str, float]],
    bounds: dict[str, tuple[float, float]],
    log: Callable[[str], None] | None,
) -> dict[str, float]:
    """The floor metrics: read from the cache ``path`` when the entry checks out (:func:`_read_floor`),
    else computed (and cached again, with its digest)."""
    if path.exists():
        floor, why = _read_floor(path, bounds)
        if floor is not None:
            return floor
        _say(log, f"cached floor {path} is unusable ({why}); computing it again")
    out = compute()
    try:
        text = json.dumps({"metrics": out, "digest": floor_digest(path.name, out)}, allow_nan=False)
    except ValueError:  # a non-finite floor (degenerate features) is used now but not cached as a number
        _say(log, f"the floor has non-finite values; not caching it in {path}")
        return out
    _cache_write(path, text, log)
    return out


def image_evaluator(
    cfg: Config,
    features: str = "classifier",
    n: int | None = None,
    device: str | torch.device = "cpu",
    log: Callable[[str], None] | None = None,
    train: ImageData | None = None,
    **feature_kwargs,
) -> ImageEvaluator:
    """The evaluator of an image run's dataset with feature network ``features``; ``train``: the
    dataset's train split when the caller has it loaded already (training does).

    Reference statistics and floors are cached (``gankit.features.cache_dir()``) under the feature
    network and the data's content hash; the floor uses min(n, held-out size) images (default: all
    held-out images, at most 10,000). Each entry stores the digest of its own content. An entry that
    does not check out (stale, damaged, without a digest, edited by hand, out of its metrics' ranges)
    is computed again and rewritten, with a log line saying so.
    """
    d = cfg.data
    reference, held, split = load_splits(d.name, d.root, d.download, d.resolution, train=train)
    if min(len(reference.images), len(held.images)) < MIN_EVAL_SAMPLES:
        raise GankitError(
            f"{d.name}: too few images for the image metrics ({len(reference.images)} reference, "
            f"{len(held.images)} held out; at least {MIN_EVAL_SAMPLES} each)"
        )
    net = get_feature_net(features, reference, held, device=device, log=log, **feature_kwargs)
    n_floor = min(n or REF_SUBSET, len(held.images))
    ref_hash = data_hash(reference)
    ref = _reference_stats(net, reference, cache_dir() / f"ref-{net.key}-{ref_hash}.npz", log)
    floor_path = cache_dir() / f"floor2-{net.key}-{ref_hash}-{data_hash(held)}-{n_floor}.json"
    # a seeded random subset: the held-out images may be sorted by class (image folders are)
    pick = torch.randperm(len(held.images), generator=torch.Generator().manual_seed(0))[:n_floor].sort().values
    bounds = floor_bounds(ref, n_floor, net.classes)
    floor = _floor(floor_path, lambda: feature_metrics(ref, *net(held.images[pick])), bounds, log)
    modes = mode_counter(cfg, held, device, log) if d.name == "stacked_mnist" else None
    return ImageEvaluator(net, ref, floor, n_floor, split, modes)


def mode_counter(
    cfg: Config, held: ImageData, device: str | torch.device, log: Callable[[str], None] | None
) -> ModeCounter:
    """StackedMNIST's mode counter: gankit's classifier of single MNIST digits (trained on MNIST's train
    split at the run's resolution, tested on its test split; cached) and its floor on ``held`` (the
    held-out real stacked images)."""
    d = cfg.data
    digits, digits_held, _ = load_splits("mnist", d.root, d.download, d.resolution)
    net = get_feature_net("classifier", digits, digits_held, device=device, log=log)
    counter = ModeCounter(net, {}, len(held.images))
    counter.floor = counter.measure(held.images)
    return counter


@dataclass
class TrainingEvaluation:
    """The loop's one evaluation entry: "the metrics of this generator now" (as stylegan2-ada's
    ``metric_main.calc_metric``). Behind :meth:`measure` live the toy-or-image choice, the raw G
    measured beside its EMA copy, the sharing of the samples across data-parallel processes and the
    key names (``toy/...``, ``eval/<features>/...``, ``raw/...``). Build it with
    :func:`training_evaluation`."""

    cfg: Config
    data: GaussianMixture | ImageData
    num_classes: int
    chunk: int  # G's samples per forward pass (see gankit.generate.generator_chunk)
    evaluator: "ImageEvaluator | None"  # images, on the process that measures; None for toy targets
    main: bool  # this process measures and writes (rank 0)

    def measure_one(self, G: nn.Module) -> dict[str, float]:
        """One generator's metrics on its own seeded noise (the training RNG is untouched): exact toy
        metrics, or the image metrics against the cached reference statistics. Under torchrun each
        process draws its part of the n samples and the main process measures them all."""
        t, z_dim = self.cfg.train, self.cfg.model.z_dim
        if isinstance(self.data, GaussianMixture):
            return evaluate_toy(G, self.data, z_dim, n_modes=t.eval_samples) if self.main else {}
        n = t.eval_samples
        samples = distributed.gather_rows(
            sample_uint8(G, z_dim, self.num_classes, n, part=distributed.part(n), chunk=self.chunk), n
        )
        if not self.main:
            return {}
        assert self.evaluator is not None and samples is not None  # the main process has both
        return {f"eval/{t.eval_features}/{k}": v for k, v in self.evaluator.measure(samples).items()}

    def measure(self, G: nn.Module, raw: nn.Module | None, step: int) -> tuple[dict[str, float], dict | None]:
        """The metrics of the sampling generator ``G`` after ``step`` and, when it is an EMA copy, of the
        raw G (``raw``) beside them, as {logged key: value} (raw G's under ``raw/<key>``); and on the main
        process the eval.json record of both (None elsewhere)."""
        t = self.cfg.train
        vals = self.measure_one(G)
        raws = self.measure_one(raw) if raw is not None else None
        logged = {**vals, **{f"raw/{k}": v for k, v in (raws or {}).items()}}
        if not self.main:
            return logged, None
        name = lambda k: k.split("/")[-1]  # noqa: E731 — a metric's name in eval.json
        if isinstance(self.data, GaussianMixture):
            record = toy_record(vals, t.eval_samples, step)
        else:
            assert self.evaluator is not None  # built on the main process of an image run
            record = image_record(
                self.evaluator, {name(k): v for k, v in vals.items()}, t.eval_samples, step, self.cfg.data.name
            )
        by_name = {name(k): v for k, v in raws.items()} if raws is not None else None
        return logged, {**with_generators(record, "G_ema" if raw is not None else "G", by_name), "source": "training"}


def training_evaluation(
    cfg: Config,
    data: GaussianMixture | ImageData,
    num_classes: int,
    chunk: int,
    device: torch.device,
    main: bool,
    log: Callable[[str], None] | None = None,
) -> TrainingEvaluation | None:
    """The loop's evaluation (None when the run measures nothing: images without train.eval_features).
    The image metrics' feature network and reference statistics are built here, before step 1, so that
    a problem (missing weights, a dataset too small) stops the run before any work is lost; the other
    processes wait for the main one (building may train the classifier) instead of timing out."""
    toy = isinstance(data, GaussianMixture)
    if not toy and not cfg.train.eval_features:
        return None
    evaluator = None
    if not isinstance(data, GaussianMixture):  # not toy, spelled so that the checker narrows data
        if main:
            evaluator = image_evaluator(cfg, cfg.train.eval_features, device=device, train=data, log=log)
        distributed.barrier()
    return TrainingEvaluation(cfg, data, num_classes, chunk, evaluator, main)
