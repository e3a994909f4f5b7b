"""A run directory once trained: load its generator (``gankit sample``), write its samples, evaluate it
(``gankit eval``)."""

from __future__ import annotations

import functools
import json
import math
import numbers
import os
import shutil
from pathlib import Path
from typing import Any, BinaryIO, Iterator, NamedTuple

import numpy as np
import torch
from torch import nn

from .checkpoint import LAST, check_compatible, load_checkpoint
from .config import MIN_EVAL_SAMPLES, Config, read_config
from .data import ImageData, fingerprint, load_dataset, to_uint8
from .distributions import GaussianMixture
from .errors import GankitError
from .evaluate import eval_bytes, evaluate_toy, image_evaluator, image_record, toy_record, with_generators
from .generate import (
    GEN_CHUNK_BYTES,
    check_truncation,
    generator_chunk,
    noise_bytes,
    out_of_memory_as_error,
    probe_generator,
    run_generator,
    truncated_noise,
)
from .files import check_writable, write_atomic
from .memory import human_bytes, require_bytes
from .nets import build_nets

__all__ = [
    "load_generator",
    "load_generator_from",
    "resolve_run",
    "LoadedGenerator",
    "GeneratorSource",
    "write_samples",
    "sample_bytes",
    "evaluate_run",
    "resume_point",
    "RunSummary",
    "summarize_runs",
    "format_runs",
]


def _is_int(v, low: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


def _is_count(v, low: int) -> bool:
    """A sample count from the command line or from Python (NumPy integers too), at least ``low``."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and int(v) >= low


GENERATORS = ("auto", "ema", "raw")  # --generator: the EMA copy when the run keeps one (auto), or which


def _pick_generator(state: dict, run: Path, generator: str) -> str:
    """The checkpoint key of the generator asked for: ``G_ema`` (auto, when the run keeps one; or ema)
    or ``G`` (raw, or auto without an EMA); asking for an EMA a run never kept is one line."""
    if generator not in GENERATORS:
        raise GankitError(f"unknown generator {generator!r}; valid: {', '.join(GENERATORS)}")
    has_ema = state.get("G_ema") is not None
    if generator == "ema" and not has_ema:
        raise GankitError(f"{run} kept no EMA copy of G (train.ema_kimg was 0); use --generator raw")
    return "G_ema" if generator == "ema" or (generator == "auto" and has_ema) else "G"


def _checkpoint_fields(state: dict, run: Path, key: str = "G") -> tuple[tuple[int, ...], int, int, dict]:
    """(data shape, number of classes, step, the weights of generator ``key``) of a training checkpoint,
    each checked here too (``load_checkpoint`` already checks them; a value of the wrong type must never
    reach int() or tuple() and surface as a traceback)."""
    # Any: unchecked until `checks` below
    shape: Any = state.get("data_shape")
    n_cls: Any = state.get("num_classes")
    step: Any = state.get("step", 0)
    weights: Any = state.get(key)
    checks = {
        "data_shape": isinstance(shape, (list, tuple)) and len(shape) in (1, 3) and all(_is_int(d, 1) for d in shape),
        "num_classes": _is_int(n_cls, 0),
        "step": _is_int(step, 0),
        "G": isinstance(weights, dict) and all(isinstance(k, str) and torch.is_tensor(v) for k, v in weights.items()),
    }
    bad = [k for k, ok in checks.items() if not ok]
    if bad:
        raise GankitError(f"checkpoint of {run} is damaged: field {bad[0]!r} has the wrong type or value")
    return tuple(shape), n_cls, step, weights


def _build_generator(cfg: Config, shape: tuple[int, ...], n_cls: int, weights: dict, run: Path) -> nn.Module:
    """G for ``cfg.model`` with ``weights`` loaded. The networks are first built on the meta device (no
    memory, no RNG) and their parameter shapes compared with the checkpoint's, so a checkpoint that does
    not fit its config (or a forged data_shape or num_classes asking for a network of terabytes) is one
    line, not an allocation."""
    where = f"checkpoint of {run} does not fit its config.yaml"
    try:
        with torch.device("meta"):
            G_meta, _ = build_nets(cfg.model, shape, n_cls)
    except (ValueError, TypeError, KeyError, RuntimeError, GankitError) as e:
        raise GankitError(f"{where}: {str(e).strip().splitlines()[0][:160] if str(e).strip() else e}") from None
    want = {k: tuple(v.shape) for k, v in G_meta.state_dict().items()}
    have = {k: tuple(v.shape) for k, v in weights.items()}
    if want != have:
        k = next(k for k in sorted(want.keys() | have.keys()) if want.get(k) != have.get(k))
        raise GankitError(
            f"{where}: G's {k} is {list(have[k]) if k in have else 'missing'} in the checkpoint, "
            f"{list(want[k]) if k in want else 'absent'} in the network"
        )
    with torch.random.fork_rng(devices=[]):  # initial weights, overwritten: leave the caller's RNG alone
        G, _ = build_nets(cfg.model, shape, n_cls)
    try:
        G.load_state_dict(weights)
    except RuntimeError as e:
        raise GankitError(f"{where}: {str(e).splitlines()[0][:160]}") from None
    return G


def resolve_run(path: str | Path) -> tuple[Path, Path]:
    """(run directory, checkpoint to load) for ``path``: a run directory (its ``checkpoints/last.pt``),
    or a checkpoint file inside one (``RUN/checkpoints/step_NNNNNN.pt`` or ``last.pt``: the run
    directory is its grandparent, which holds config.yaml). Anything else is one GankitError line."""
    p = Path(path)
    if p.is_dir():
        return p, p / "checkpoints" / LAST
    if p.is_file():
        run = p.parent.parent
        if not (run / "config.yaml").is_file():
            raise GankitError(
                f"{p} is neither a run directory nor a checkpoint in one "
                f"(RUN/checkpoints/NAME.pt beside RUN/config.yaml; {run / 'config.yaml'} does not exist)"
            )
        return run, p
    if p.suffix == ".pt":
        raise GankitError(f"checkpoint not found: {p}")
    raise GankitError(f"run directory not found: {p}")


def _load_run(
    run_dir: str | Path, use: str, generator: str = "auto", checkpoint: Path | None = None
) -> tuple[nn.Module, Config, int, int, dict]:
    """(G in eval mode, config, number of classes, step, checkpoint state) of a run; see :func:`load_generator`.
    ``checkpoint``: the file to load (default ``checkpoints/last.pt``). ``state["generator"]`` is set to the
    name of the generator loaded (``G_ema`` or ``G``)."""
    run = Path(run_dir)
    if not run.is_dir():
        raise GankitError(f"run directory not found: {run}" + (" (it is a file)" if run.is_file() else ""))
    cfg = read_config(run / "config.yaml")
    where = checkpoint if checkpoint is not None else run / "checkpoints" / LAST
    state = load_checkpoint(where)  # field types and finite weights checked there
    key = _pick_generator(state, run, generator)
    shape, n_cls, step, weights = _checkpoint_fields(state, run, key)
    state["generator"] = key
    # config.yaml edited after training (data.name ring8 → grid25, a model or objective field) would
    # otherwise sample or measure a network built from, or data chosen by, a config the run never had;
    # resume refuses it the same way. The checkpoint's own shape: the data is checked where it is loaded.
    check_compatible(state, cfg.model_dump(mode="json"), shape, n_cls, where, None, use=use)
    G = _build_generator(cfg, shape, n_cls, weights, run)
    return G.eval(), cfg, n_cls, step, state


class LoadedGenerator(NamedTuple):
    """A run's generator as :func:`load_generator` gives it back."""

    G: nn.Module  # in eval mode, on the CPU
    config: Config  # the run's config.yaml
    num_classes: int  # classes G conditions on (0: unconditional)
    step: int  # the step of the checkpoint its weights come from


class GeneratorSource(NamedTuple):
    """Where :func:`load_generator_from` found a generator."""

    run: Path  # the run directory (holds config.yaml)
    checkpoint: Path  # the checkpoint file loaded
    key: str  # the checkpoint's name for the network: "G_ema" or "G"


def load_generator_from(
    path: str | Path, use: str = "sample it", generator: str = "auto"
) -> tuple[LoadedGenerator, GeneratorSource]:
    """:func:`load_generator`, and where the generator came from (run directory, checkpoint file and
    which network of it)."""
    run, checkpoint = resolve_run(path)
    G, cfg, n_cls, step, state = _load_run(run, use, generator, checkpoint)
    return LoadedGenerator(G, cfg, n_cls, step), GeneratorSource(run, checkpoint, state["generator"])


def load_generator(path: str | Path, use: str = "sample it", generator: str = "auto") -> LoadedGenerator:
    """A run's generator with its config, class count and step: the EMA generator when the run kept one,
    else G (``generator``: ``auto``, ``ema`` or ``raw``), in eval mode on the CPU. ``path``: a run
    directory (its last checkpoint's weights) or a checkpoint file inside one (:func:`resolve_run`). A
    damaged checkpoint, one that does not fit config.yaml, or one written under another data, model or
    objective config than config.yaml now holds, is one GankitError line (``use``: what that line tells
    the user to do with the run's own config.yaml)."""
    return load_generator_from(path, use, generator)[0]


def sample_bytes(
    n: int,
    z_dim: int,
    shape: tuple[int, ...],
    png: bool,
    truncation: float | None = None,
    chunk_bytes: int = GEN_CHUNK_BYTES,
    conditional: bool = False,
) -> int:
    """About the most memory :func:`write_samples` holds for n samples of ``shape``.

    Always: the noise (float32, plus float64 uniforms when truncated), class labels (int64) when
    ``conditional``, and G's working chunk (``chunk_bytes``). Then what is kept whole: nothing for
    ``.npy`` (written chunk by chunk); for an image grid (``.png``) G's float32 output, torchvision's
    normalised copy, the 3-channel grid with its 2-pixel padding in float32, its scaled copy and two
    uint8 copies (the array and PIL's); for a toy plot the float32 points and matplotlib's float64
    offsets and paths (about 64 bytes a point)."""
    base = noise_bytes(n, z_dim, truncation) + (8 * n if conditional else 0) + chunk_bytes
    if not png:
        return base
    if len(shape) == 1:
        return base + n * (4 * shape[0] + 64)
    c, h, w = shape
    grid = 3 * (h + 2) * (w + 2) * (4 + 4 + 1 + 1)
    grey = 3 * h * w * 4 if c == 1 else 0  # make_grid repeats a grey channel to three first
    return base + n * (8 * c * h * w + grey + grid)


def _check_sample_request(
    G: nn.Module, cfg: Config, num_classes: int, n: int, out: Path, klass: int | None, truncation: float | None
) -> tuple[tuple[int, ...], int]:
    """Every check of a sample request before any work: (shape of one sample, G's chunk)."""
    if not _is_count(n, 1):
        raise GankitError(f"the number of samples must be a positive integer, got {n!r}")
    if out.suffix.lower() not in (".npy", ".png"):
        raise GankitError(f"samples are written to a .npy or .png file, got {str(out)!r}")
    if klass is not None and not num_classes:
        raise GankitError("--class needs a class-conditional run (model.conditional=true)")
    if klass is not None and not 0 <= klass < num_classes:
        raise GankitError(f"--class must be in 0..{num_classes - 1}, got {klass}")
    if out.is_dir():
        raise GankitError(f"cannot write samples to {out}: it is a directory")
    shape, peak = probe_generator(G, cfg.model.z_dim, num_classes)
    chunk = generator_chunk(peak)
    png = out.suffix.lower() == ".png"
    work = min(n, chunk) * (3 * peak + 5 * math.prod(shape))  # G's activations, float32 output and its uint8 copy
    need = sample_bytes(n, cfg.model.z_dim, shape, png, truncation, work, conditional=bool(num_classes))
    require_bytes(need, f"drawing {n} samples (--n) into {out.name}")
    check_writable(out.parent)  # said now, not after the samples are drawn
    if not png:
        size = n * math.prod(shape) * (1 if len(shape) == 3 else 4)
        free = shutil.disk_usage(out.parent).free
        if size > free:
            raise GankitError(
                f"cannot write samples to {out}: they take {human_bytes(size)} and "
                f"{out.parent} has {human_bytes(free)} free"
            )
    return shape, chunk


def _npy_writer(G: nn.Module, z: torch.Tensor, y: torch.Tensor | None, shape: tuple[int, ...], chunk: int):
    """A writer of the ``.npy`` file of G's samples, G run ``chunk`` rows at a time: the header, then each
    chunk's rows as they come (images as uint8, toy points as float32), so only one chunk is in memory."""
    dtype = np.dtype(np.uint8 if len(shape) == 3 else np.float32)

    def rows() -> Iterator[np.ndarray]:
        ys = [None] * len(z.split(chunk)) if y is None else y.split(chunk)
        for zc, yc in zip(z.split(chunk), ys):
            x = run_generator(G, zc, yc, chunk)
            yield (to_uint8(x) if len(shape) == 3 else x).numpy()

    def write(f: BinaryIO) -> None:
        header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (len(z), *shape)}
        np.lib.format.write_array_header_1_0(f, header)
        for block in rows():
            f.write(np.ascontiguousarray(block, dtype=dtype).data)

    return write


def _png_writer(G: nn.Module, cfg: Config, z: torch.Tensor, y: torch.Tensor | None, chunk: int, title: str):
    """A writer of the ``.png`` of G's samples: a grid of images, or the points over the toy density."""
    x = run_generator(G, z, y, chunk)
    if cfg.data.is_toy:
        import matplotlib

        from .plots import plot_toy_samples
        from .build import load_data

        target = load_data(cfg)

        def write(f: BinaryIO) -> None:
            with matplotlib.rc_context({"savefig.format": "png"}):  # a file object has no suffix to go by
                plot_toy_samples(target, x, f, title)

        return write
    from torchvision.utils import save_image

    return lambda f: save_image(
        x, f, format="png", nrow=max(1, int(round(len(x) ** 0.5))), normalize=True, value_range=(-1, 1)
    )


def write_samples(
    G: nn.Module,
    cfg: Config,
    num_classes: int,
    n: int,
    seed: int,
    out: Path,
    klass: int | None = None,
    truncation: float | None = None,
) -> None:
    """n samples with noise seed ``seed`` written to ``out``, atomically: a failed write (a full disk)
    leaves no partial file and any old ``out`` untouched, and is one GankitError line.

    Toy targets: ``.npy`` float32 [n, dims], ``.png`` a plot over the density. Images: ``.npy``
    uint8 [n, C, H, W], ``.png`` a grid. A conditional G draws class ``klass``, or classes in turn.
    ``truncation`` T draws z from N(0, I) truncated to |z| ≤ T. ``.npy`` files are written chunk by
    chunk (only the noise is held whole, so the samples match one whole draw); a size whose noise, or
    whose grid or plot, cannot fit in memory is refused up front (:func:`sample_bytes`), and running
    out of memory anyway is one line too.
    """
    out = Path(out)
    truncation = check_truncation(truncation)
    shape, chunk = _check_sample_request(G, cfg, num_classes, n, out, klass, truncation)
    n = int(n)  # a NumPy integer too
    with out_of_memory_as_error(f"drawing {n} samples"):
        y = None
        if num_classes:
            y = torch.full((n,), klass) if klass is not None else torch.arange(n) % num_classes
        gen = torch.Generator().manual_seed(seed)
        z = truncated_noise(n, cfg.model.z_dim, truncation, gen)
        if out.suffix.lower() == ".png":
            writer = _png_writer(G, cfg, z, y, chunk, f"{n} samples, seed {seed}")
        else:
            writer = _npy_writer(G, z, y, shape, chunk)
        try:
            write_atomic(out, writer)
        except OSError as e:
            raise GankitError(f"cannot write samples to {out}: {e.strerror or e}") from None


def _check_eval_count(n, toy: bool) -> int | None:
    """n as an int (None: the default count); one GankitError line unless it is an integer ≥ 1 (toy) or
    ≥ MIN_EVAL_SAMPLES (images: the k-NN metrics need more than k = 5 neighbours, IS 10 splits)."""
    low = 1 if toy else MIN_EVAL_SAMPLES
    if n is not None and not _is_count(n, low):
        raise GankitError(f"the number of evaluation samples must be an integer ≥ {low}, got {n!r}")
    return None if n is None else int(n)


def _toy_record(G: nn.Module, cfg: Config, n: int, step: int, state: dict, where: Path) -> dict:
    """Evaluate a toy run on its exact density (no feature network); its eval.json record."""
    from .build import load_data

    target = load_data(cfg)
    assert isinstance(target, GaussianMixture)  # called for toy configs only
    # the target's dimension against the checkpoint's; its parameters are all in the config, checked already
    check_compatible(state, cfg.model_dump(mode="json"), (target.dim,), 0, where, None, use="evaluate it")
    require_bytes(
        eval_bytes(n, cfg.model.z_dim, (target.dim,), modes=len(target.means)), f"evaluating {n} samples (--n)"
    )
    with out_of_memory_as_error(f"evaluating {n} samples"):
        vals = evaluate_toy(G, target, cfg.model.z_dim, n_modes=n)
    return toy_record(vals, n, step)


def _training_data(cfg: Config, state: dict, where: Path) -> ImageData:
    """The train split of the run's dataset, once it is the data the checkpoint was trained on: the same
    shape and class count, and the same images (the checkpoint's fingerprint; a run trained from Python
    on its own tensors is not measured against the preset's dataset). Else one GankitError line."""
    from .sources import EVAL_SUBSET, open_stream

    d = cfg.data
    stream = open_stream(d.name, d.root, d.download, d.resolution, d.in_memory, d.workers)
    if stream is not None:  # as training read it: its files' fingerprint, and the subset its metrics used
        n_cls = stream.num_classes if cfg.model.conditional else 0
        check_compatible(
            state, cfg.model_dump(mode="json"), stream.shape, n_cls, where, stream.identity, use="evaluate it"
        )
        return stream.subset(EVAL_SUBSET)
    train = load_dataset(d.name, d.root, d.download, d.resolution)  # as training loads it (train.load_data)
    assert train is not None  # only a test split may be missing
    n_cls = train.num_classes if cfg.model.conditional else 0
    check_compatible(
        state, cfg.model_dump(mode="json"), train.shape, n_cls, where, fingerprint(train), use="evaluate it"
    )
    return train


def _image_record(
    G: nn.Module,
    cfg: Config,
    n_cls: int,
    n: int | None,
    step: int,
    features: str,
    log,
    feature_kwargs: dict,
    state: dict,
    where: Path,
) -> dict:
    """Evaluate an image run with feature network ``features``; its eval.json record."""
    from .build import resolve_device

    device = resolve_device("auto")
    z_dim = cfg.model.z_dim
    G = G.to(device)
    shape, peak = probe_generator(G, z_dim, n_cls)
    chunk = generator_chunk(peak)

    def need(count: int, classes: int) -> int:
        work = min(count, chunk) * (3 * peak + 5 * math.prod(shape))  # G's chunk, as in _check_sample_request
        return eval_bytes(count, z_dim, shape, features, classes, chunk_bytes=work)

    # Up front, before any data is loaded or a classifier trained: with a lower bound on the class
    # count (2); n = None means as many as the held-out images, at most 10,000.
    require_bytes(need(n or 10000, max(n_cls, 2)), f"evaluating {n or 10000} samples (--n)")
    with out_of_memory_as_error(f"evaluating {n or 10000} samples"):
        train = _training_data(cfg, state, where)
        ev = image_evaluator(cfg, features, n=n, device=device, log=log, train=train, **feature_kwargs)
        n = n or ev.n_floor
        require_bytes(need(n, ev.net.classes or 1008), f"evaluating {n} samples (--n)")
        vals = ev(G, z_dim, n_cls, n, chunk=chunk)
    return image_record(ev, vals, n, step, cfg.data.name)


def evaluate_run(
    run_dir: str | Path,
    n: int | None = None,
    features: str = "classifier",
    log=None,
    generator: str = "auto",
    **feature_kwargs,
) -> dict:
    """Evaluate a run's generator (``generator``: ``auto``, the EMA copy when the run keeps one, else G;
    ``ema``; ``raw``); the result, naming it, is also written to ``RUN_DIR/eval.json``.

    Images: every metric of :data:`gankit.evaluate.IMAGE_METRICS` on n samples (default: as many as
    the held-out real images, at most 10,000) with feature network ``features``, each beside its
    floor (held-out real images against the reference). Toy targets: the exact-density metrics of
    :func:`gankit.evaluate.evaluate_toy` (no feature network), n samples for the mode statistics.
    Returns ``{"features", "features_info", "n", "step", "split", "metrics": {name: {"value",
    "floor", "better"}}}``: every number names its sample count and feature network. A sample count
    that cannot fit in memory is refused up front (:func:`gankit.evaluate.eval_bytes`), and running
    out of memory anyway is one GankitError line. So is a run whose config.yaml no longer matches its
    checkpoint (data, model or objective edited), or whose checkpoint was trained on other images than
    the config's dataset gives now (:func:`gankit.checkpoint.check_compatible`). A value that is not a
    finite number is None (JSON null), so eval.json is valid JSON.
    """
    G, cfg, n_cls, step, state = _load_run(run_dir, use="evaluate it", generator=generator)
    n = _check_eval_count(n, cfg.data.is_toy)
    where = Path(run_dir) / "checkpoints" / LAST
    if cfg.data.is_toy:
        out = _toy_record(G, cfg, n or cfg.train.eval_samples, step, state, where)
    else:
        out = _image_record(G, cfg, n_cls, n, step, features, log, feature_kwargs, state, where)
    out = with_generators(out, state["generator"])
    path = Path(run_dir) / "eval.json"
    try:
        write_atomic(path, json.dumps(out, indent=1, allow_nan=False))
    except OSError as e:
        raise GankitError(f"cannot write {path}: {e.strerror or e}") from None
    return out


# --- resume and the list of runs (gankit resume, gankit runs) --------------------------------------
def _checkpoint_step(folder: Path) -> int | None:
    """The step of ``folder/last.pt`` without loading it: last.pt is a hard link to the newest
    ``step_NNNNNN.pt`` (:func:`gankit.checkpoint.save_rotating`), so the step file of the same inode
    names it; on a file system without hard links, the newest step file. None when there is none."""
    steps = {}
    for p in folder.glob("step_*.pt"):
        if p.stem[5:].isdigit():
            steps[p] = int(p.stem[5:])
    try:
        last = (folder / LAST).stat()
    except OSError:
        return None
    same = [s for p, s in steps.items() if p.stat().st_ino == last.st_ino and p.stat().st_dev == last.st_dev]
    return same[0] if same else max(steps.values(), default=None)


def resume_point(run_dir: str | Path) -> tuple[Path, int | None] | None:
    """(checkpoint, its step) that ``gankit resume`` goes on from: ``RUN/checkpoints/last.pt``, its step
    read from the file names (None if they do not say); None when the run has no checkpoint."""
    where = Path(run_dir) / "checkpoints" / LAST
    if not where.is_file():
        return None
    return where, _checkpoint_step(where.parent)


class RunSummary(NamedTuple):
    """One row of ``gankit runs``: every field already a string for the table."""

    name: str
    what: str  # the preset whose data, model and objective the run has, else model/data
    steps: str  # "done/total"
    status: str  # finished, running, stopped, no checkpoint, or why the run cannot be read
    metrics: str  # the last evaluation: FID for images, modes and JSD for toy targets
    started: str
    wall: str  # time spent training, from the TensorBoard event files ("–" when there are none)


@functools.lru_cache(maxsize=1)
def _preset_sections() -> tuple[tuple[str, dict], ...]:
    """Each shipped preset's resolved data, model and objective sections, read once a process."""
    from .config import load_config, preset_names

    keys = ("data", "model", "objective")
    return tuple(
        (n, {k: v for k, v in load_config(n).model_dump(mode="json").items() if k in keys}) for n in preset_names()
    )


def _preset_of(cfg: Config) -> str:
    """The shipped preset with the run's data, model and objective (train.* may differ), else
    ``model/data`` (``cond`` added for a class-conditional run)."""
    mine = cfg.model_dump(mode="json")
    for name, ref in _preset_sections():
        if all(ref[k] == mine[k] for k in ref):
            return name
    return f"{cfg.model.name}/{cfg.data.name}" + (" cond" if cfg.model.conditional else "")


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else "–"


def _last_metrics(run: Path, rows: list[dict]) -> str:
    """The run's last evaluation, short: eval.json's (the final one, or gankit eval's), else the last
    evaluation logged in metrics.jsonl (``rows``). An unreadable eval.json counts as absent."""
    values: dict[str, Any] = {}
    try:
        ev = json.loads((run / "eval.json").read_text())
        values = {k: m.get("value") for k, m in ev["metrics"].items() if isinstance(m, dict)}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        for row in reversed(rows):
            found = {k.rsplit("/", 1)[1]: v for k, v in row.items() if k.startswith(("eval/", "toy/"))}
            if found:
                values = found
                break
    if "fid" in values:
        return f"fid {_fmt(values['fid'])}"
    if "modes" in values or "jsd" in values:
        return f"modes {_fmt(values.get('modes'))}, jsd {_fmt(values.get('jsd'))}"
    return "–"


WALL_KEY = "time/wall_s"  # seconds of training, resumes included, in each metrics.jsonl row (gankit.stats)


def _duration(seconds: float) -> str:
    h, rest = divmod(round(seconds), 3600)
    return f"{h}h{rest // 60:02d}m" if h else f"{rest // 60}m{rest % 60:02d}s"


def _times(run: Path, rows: list[dict]) -> tuple[str, str]:
    """(started, wall time) of a run. Started: the time of its oldest file (no start time is recorded;
    its oldest figure, checkpoint or TensorBoard file is from its first minutes). Wall time: the last
    ``time/wall_s`` in metrics.jsonl (``rows``); in runs that predate it, the TensorBoard event files,
    one per training session, named with the session's start and last written at its end (summing
    their spans leaves out the gaps between a stop and a resume)."""
    import time

    stamps, tb_wall = [], 0.0
    try:
        paths = [run, *run.iterdir(), *(q for d in ("samples", "checkpoints", "tb") for q in (run / d).glob("*"))]
    except OSError:  # a folder that cannot be listed: no times, still a row
        paths = []
    for p in paths:
        try:
            mtime = p.stat().st_mtime
        except OSError:
            continue
        stamps.append(mtime)
        parts = p.name.split(".")
        if p.parent.name == "tb" and p.name.startswith("events.out.tfevents.") and parts[3].isdigit():
            stamps.append(float(parts[3]))
            tb_wall += max(0.0, mtime - float(parts[3]))
    started = time.strftime("%Y-%m-%d %H:%M", time.localtime(min(stamps))) if stamps else "–"
    recorded = next((r[WALL_KEY] for r in reversed(rows) if isinstance(r.get(WALL_KEY), (int, float))), None)
    if recorded is not None and math.isfinite(recorded):
        return started, _duration(recorded)
    return started, _duration(tb_wall) if tb_wall else "–"


def _lock_held(run: Path) -> bool:
    """Whether a process holds the run's lock (it is training or resuming), from Linux's /proc/locks,
    which lists every flock with its file's device and inode: nothing is locked or written to find out
    (taking the lock to test it could turn away a run starting that instant). False elsewhere."""
    from .files import LOCK_NAME

    try:
        st = (run / LOCK_NAME).stat()
        table = Path("/proc/locks").read_text()
    except OSError:
        return False
    ident = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    return any("FLOCK" in line and ident in line.split() for line in table.splitlines())


def _summarize(run: Path) -> RunSummary:
    """The row of one run directory; a run whose files cannot be read is a row that says so."""
    from .errors import one_line

    from .stats import read_jsonl

    name = one_line(run.name)
    try:
        rows = read_jsonl(run / "metrics.jsonl", torn_ok=True)  # damaged lines skipped
    except OSError:
        rows = []
    started, wall = _times(run, rows)
    try:
        cfg = read_config(run / "config.yaml")
    except (GankitError, OSError) as e:
        why = str(e).split(": ", 1)[0] if "not found" in str(e) else "unreadable config.yaml"
        return RunSummary(name, "–", "–", f"broken ({why})", "–", started, wall)
    done = _checkpoint_step(run / "checkpoints")
    total = cfg.train.steps
    if _lock_held(run):
        status = "running"
    elif done is None:
        status = "no checkpoint"
    else:
        status = "finished" if done >= total else "stopped"
    steps = f"{'–' if done is None else done}/{total}"
    return RunSummary(name, _preset_of(cfg), steps, status, _last_metrics(run, rows), started, wall)


def _is_run(p: Path) -> bool:
    return p.is_dir() and any((p / x).exists() for x in ("config.yaml", "checkpoints", "metrics.jsonl"))


def summarize_runs(folder: str | Path = "runs") -> list[RunSummary]:
    """One :class:`RunSummary` a run directory in ``folder`` (by name; ``folder`` itself when it is a run
    directory). Folders that hold no run (no config.yaml, checkpoints or metrics.jsonl, such as
    ``gankit theory``'s) are left out; a broken or unfinished run is a row saying so, never an error."""
    root = Path(folder)
    if not root.is_dir():
        raise GankitError(f"folder not found: {root}" if not root.exists() else f"{root} is not a folder")
    if (root / "config.yaml").is_file():
        return [_summarize(root)]
    return [_summarize(p) for p in sorted(root.iterdir()) if _is_run(p)]


def format_runs(rows: list[RunSummary]) -> str:
    """The rows as a plain-text table, one line a run, columns aligned."""
    head = RunSummary("run", "preset or model/data", "steps", "status", "last metrics", "started", "wall")
    table = [head, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table)
