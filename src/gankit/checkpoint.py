"""Checkpoints: one mapping, written atomically, loaded without unpickling arbitrary objects.

A checkpoint holds the networks, the optimisers, the step, the RNG states and the resolved
config (as plain data); :mod:`gankit.training.state` says exactly what, and writes and restores it.
Its ``format`` names the layout: an older one is migrated on load (:func:`migrate`), a newer one
refused with one line, so that no checkpoint is ever misread. It is written to a temporary file in the same folder, flushed and
fsynced, then renamed over the target, so a crash leaves either the old file or the new one,
never a torn one. Loading uses ``torch.load(weights_only=True)``, which refuses any pickle
that would build objects other than tensors and plain containers.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from .config import Config
from .errors import GankitError, refusal
from .files import fsync_dir, write_atomic

__all__ = [
    "save_checkpoint",
    "save_rotating",
    "remove_partial_writes",
    "load_checkpoint",
    "rng_state",
    "set_rng_state",
    "check_training_state",
    "check_compatible",
    "migrate",
    "refusal",
    "LAST",
    "CHECKPOINT_FORMAT",
]

LAST = "last.pt"
# The layout of a training checkpoint. 1: no "format" key (written before formats were numbered; the
# same fields as 2). 2: "format" added. A field added later gets a new number and a migration step.
CHECKPOINT_FORMAT = 2


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """Write ``state`` to ``path`` atomically (temporary file, fsync, rename, fsync the folder).

    The state is serialised in memory first, so that a failing write (a full disk) is a plain
    OSError with its reason, not torch's internal ``[enforce fail ...]`` text."""
    try:
        buf = io.BytesIO()
        torch.save(state, buf)
        write_atomic(path, buf.getbuffer(), durable=True)
    except (OSError, RuntimeError) as e:
        why = getattr(e, "strerror", None) or (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise GankitError(f"cannot write checkpoint {path}: {why}") from None


def save_rotating(state: dict[str, Any], folder: str | Path, step: int, keep: int) -> Path:
    """Write ``folder/step_NNNNNN.pt`` atomically, point ``folder/last.pt`` at it (a hard link put in
    place by rename: atomic, no second copy), then delete all but the newest ``keep`` step files.

    Order matters for crash safety: until the new file is complete and renamed, ``last.pt`` is the
    previous checkpoint; old files go only after ``last.pt`` names the new one.
    """
    folder = Path(folder)
    path = folder / f"step_{step:06d}.pt"
    try:
        save_checkpoint(state, path)
    except GankitError as e:
        kept = (
            f"the previous checkpoint {folder / LAST} is intact"
            if (folder / LAST).is_file()
            else "no checkpoint of this run has been written yet"
        )
        raise GankitError(f"{e}; {kept}") from None
    tmp = folder / f".{LAST}.link.tmp"
    tmp.unlink(missing_ok=True)
    try:
        os.link(path, tmp)
        os.replace(tmp, folder / LAST)
    except OSError:  # a file system without hard links: a second atomic write
        tmp.unlink(missing_ok=True)
        save_checkpoint(state, folder / LAST)
    fsync_dir(folder)
    ours = [p for p in folder.glob("step_*.pt") if p.stem[5:].isdigit()]  # a stray step_abc.pt is not ours
    for old in sorted(ours, key=lambda p: int(p.stem[5:]))[:-keep]:
        old.unlink(missing_ok=True)
    return path


def remove_partial_writes(folder: str | Path) -> None:
    """Delete temporary files a killed writer left behind (never a finished checkpoint)."""
    for tmp in Path(folder).glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def load_checkpoint(
    path: str | Path, map_location: str | torch.device = "cpu", required: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """Read a checkpoint with weights-only unpickling; any problem is one GankitError line.

    ``required``: keys the mapping must have; by default it must be a training checkpoint, whose
    fields are checked for type (:func:`check_training_state`)."""
    path = Path(path)
    if not path.is_file():
        raise GankitError(f"checkpoint not found: {path}")
    try:
        with warnings.catch_warnings():  # torch's notes on pickle protocols are not the user's business
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for corrupt, truncated or unsafe files
        raise GankitError(f"cannot load checkpoint {path}: {refusal(e)}") from None
    keys = TRAINING_KEYS if required is None else required
    if not isinstance(state, dict) or any(k not in state for k in keys):
        raise GankitError(f"cannot load checkpoint {path}: not a gankit checkpoint")
    if required is None:
        state = migrate(state, path)
        check_training_state(state, path)
    return state


def migrate(state: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """A training checkpoint in the current format (:data:`CHECKPOINT_FORMAT`): an older format is
    brought up to it field by field; a newer one (written by a later gankit) or a format that is not
    a whole number is one GankitError line, never a guess."""
    fmt = state.get("format", 1)
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < 1:
        raise GankitError(f"checkpoint {path} is damaged: its format is {fmt!r}, not a version number")
    if fmt > CHECKPOINT_FORMAT:
        raise GankitError(
            f"checkpoint {path} has format {fmt}, newer than this gankit reads ({CHECKPOINT_FORMAT}); "
            "open it with the gankit that wrote it, or upgrade gankit"
        )
    if fmt == 1:  # format 1 holds the fields of format 2 without the version
        state = {**state, "format": 2}
    return state


TRAINING_KEYS = ("G", "D", "config", "step", "data_shape", "num_classes")


def _is_int(v: Any, low: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and low <= v < 2**63  # what a tensor can hold


def _weights(v: Any) -> bool:
    """A state dict as gankit writes one: names to dense tensors of real numbers (no complex or sparse
    tensor, which would slip past the finiteness check or fail inside torch)."""
    return isinstance(v, dict) and all(
        isinstance(k, str)
        and torch.is_tensor(t)
        and t.layout == torch.strided
        and not t.is_complex()
        and not t.is_quantized
        for k, t in v.items()
    )


def _sections(v: Any) -> bool:
    return isinstance(v, dict) and all(isinstance(v.get(k, {}), dict) for k in ("data", "model", "objective", "train"))


def check_training_state(state: dict[str, Any], path: str | Path) -> None:
    """One GankitError line when a training checkpoint's fields have the wrong type or its weights are
    not finite (a hand-edited or damaged file loads weights-only but must not be trained on, sampled
    or called good)."""
    shape = state.get("data_shape")
    checks = {
        "step": _is_int(state.get("step"), 0),
        "num_classes": _is_int(state.get("num_classes"), 0),
        "data_shape": isinstance(shape, (list, tuple)) and len(shape) in (1, 3) and all(_is_int(d, 1) for d in shape),
        "config": _sections(state.get("config")),
        "data": state.get("data") is None
        or (
            isinstance(state["data"], dict)
            and all(isinstance(state["data"].get(k), (str, type(None))) for k in ("name", "fingerprint"))
        ),
        "G": _weights(state.get("G")),
        "D": _weights(state.get("D")),
        "G_ema": state.get("G_ema") is None or _weights(state.get("G_ema")),
        "ema_n": _is_int(state.get("ema_n", 0), 0),
    }
    bad = [k for k, ok in checks.items() if not ok]
    if bad:
        raise GankitError(
            f"checkpoint {path} is damaged: field {bad[0]!r} has the wrong type or value "
            f"({type(state.get(bad[0])).__name__}); it is not a usable gankit checkpoint"
        )
    for net in ("G", "G_ema", "D"):
        for name, t in (state.get(net) or {}).items():
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                raise GankitError(
                    f"checkpoint {path} holds non-finite weights ({net}.{name}); "
                    "it is not usable (training had diverged)"
                )


def _diff(a: dict, b: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested mappings (a config's sections)."""
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _diff(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append(f"{prefix}{k}")
    return out


def check_compatible(
    state: dict[str, Any],
    cfg: dict[str, Any],
    shape: tuple[int, ...],
    n_cls: int,
    where: Path,
    fp: str | None = None,
    use: str = "resume it",
) -> None:
    """One clear line when a checkpoint (checked by :func:`check_training_state`) does not belong to
    the config ``cfg`` (resolved, as plain data) and the data it loads now: its data, model and
    objective sections, the shape and class count of the data, and (``fp``, the data's
    :func:`gankit.data.fingerprint`; None for toy targets, whose config says it all) the images
    themselves. ``use``: what the line tells the user to do with its own config.yaml."""
    saved = state["config"]
    # a field added to gankit after the checkpoint was written reads as its default there: the run
    # behaved as the default says (a checkpoint from before objective.r2_gamma had no R2)
    defaults = Config().model_dump(mode="json")
    bad = [
        k
        for sec in ("data", "model", "objective")
        for k in _diff(
            {sec: {**defaults[sec], **saved[sec]} if isinstance(saved.get(sec), dict) else {}}, {sec: cfg[sec]}
        )
    ]
    if bad:
        raise GankitError(
            f"checkpoint {where} was written with another config ({', '.join(bad[:4])} differ); "
            f"{use} with its own config.yaml"
        )
    if list(state["data_shape"]) != list(shape) or state["num_classes"] != n_cls:
        raise GankitError(
            f"checkpoint {where} was trained on data of shape {state['data_shape']} with "
            f"{state['num_classes']} classes, but {cfg['data']['name']} now gives {list(shape)} "
            f"with {n_cls}"
        )
    saved_data = state.get("data") or {}
    if fp is not None and saved_data.get("fingerprint") not in (None, fp):
        raise GankitError(
            f"checkpoint {where} was trained on other data ({saved_data.get('name')!r}, fingerprint "
            f"{saved_data['fingerprint']}) than {cfg['data']['name']} gives now (fingerprint {fp}); "
            f"{use} on its own data" + (" (from Python: pass data=...)" if use == "resume it" else "")
        )


def rng_state() -> dict[str, Any]:
    """The CPU (and, if present, CUDA) RNG states, as tensors."""
    out: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():  # this process's device only: under torchrun every process has its own
        out["cuda"] = torch.cuda.get_rng_state()
    return out


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"].cpu())
