"""A run's sampling generator exported for use outside gankit (``gankit export``): safetensors (its
weights with what rebuilds it), ONNX (for onnxruntime and other runtimes) or TorchScript (for C++ and
``torch.jit.load``).

Every format maps z [B, z_dim] ~ N(0, I) (float32), and for a class-conditional run y [B] (int64
class indices), to what G gives: images [B, C, H, W] in [-1, 1], or points [B, dims] for the toy
targets. The batch size is free in every format. safetensors and ONNX need packages beyond torch
(``pip install 'gankit[export]'``); a missing one is one line naming it.
"""

from __future__ import annotations

import importlib
import json
import warnings
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from . import __version__
from .config import Config, build_config
from .errors import GankitError
from .files import check_writable, write_atomic
from .memory import is_out_of_memory
from .nets import build_nets
from .runs import GeneratorSource, LoadedGenerator, load_generator_from

__all__ = ["FORMATS", "Exported", "export_generator", "default_export_path", "load_safetensors_generator"]

FORMATS = {"safetensors": ".safetensors", "onnx": ".onnx", "torchscript": ".pt"}  # format → file suffix
# the packages each format needs beyond torch: (module to import, its name on PyPI)
NEEDS = {
    "safetensors": [("safetensors.torch", "safetensors")],
    # torch.onnx's exporter (dynamo=True, torch's default since 2.9) writes the graph with onnxscript
    "onnx": [("onnx", "onnx"), ("onnxscript", "onnxscript")],
    "torchscript": [],
}
METADATA_FORMAT = "gankit.generator/1"  # the layout of the metadata below; a later change gets a new number
ONNX_OPSET = 20  # torch 2.15's default, named so the file does not change with torch's default


class Exported(NamedTuple):
    """What :func:`export_generator` wrote."""

    path: Path
    format: str
    generator: str  # the checkpoint's name for the network exported: "G_ema" or "G"
    step: int  # the step of the checkpoint it comes from
    # as stored in the file: safetensors' header, ONNX's metadata_props, TorchScript's extra file gankit.json
    metadata: dict[str, str]

    def describe(self) -> str:
        """One line for the user: what was exported where, and what the file maps to what."""
        n_cls = int(self.metadata["num_classes"])
        inputs = f"z [B, {self.metadata['z_dim']}]" + (f", y [B] in 0..{n_cls - 1}" if n_cls else "")
        shape = ", ".join(["B", *(str(d) for d in json.loads(self.metadata["output_shape"]))])
        return (
            f"{self.generator} (step {self.step}) exported to {self.path}: "
            f"{inputs} → {self.metadata['output']} [{shape}]"
        )


def _require(fmt: str) -> None:
    """One GankitError line naming the pip command when a package ``fmt`` needs is missing."""
    missing = []
    for module, package in NEEDS[fmt]:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(package)
    if missing:
        raise GankitError(
            f"exporting to {fmt} needs {' and '.join(missing)}, which is not installed: "
            f"pip install 'gankit[export]' (or pip install {' '.join(missing)})"
        )


def default_export_path(source: GeneratorSource, fmt: str, generator: str = "auto") -> Path:
    """``RUN/export/generator.EXT``: ``-step_NNNNNN`` added for a checkpoint other than last.pt and
    ``-raw`` for ``generator='raw'``, so exports of different networks never overwrite each other."""
    name = "generator"
    if source.checkpoint.name != "last.pt":
        name += f"-{source.checkpoint.stem}"
    if generator == "raw":
        name += "-raw"
    return source.run / "export" / f"{name}{FORMATS[fmt]}"


def _metadata(loaded: LoadedGenerator, source: GeneratorSource, shape: tuple[int, ...]) -> dict[str, str]:
    """What rebuilds and describes the exported generator, as strings (safetensors and ONNX hold only
    strings): the run's resolved config as JSON, z_dim, the class count, the output shape and range."""
    image = len(shape) == 3
    return {
        "format": METADATA_FORMAT,
        "gankit_version": __version__,
        "config": json.dumps(loaded.config.model_dump(mode="json"), sort_keys=True),
        "z_dim": str(loaded.config.model.z_dim),
        "num_classes": str(loaded.num_classes),
        "output_shape": json.dumps(list(shape)),
        "output": "images in [-1, 1]" if image else "points",
        "generator": source.key,
        "step": str(loaded.step),
        "checkpoint": source.checkpoint.name,
    }


def _example_inputs(z_dim: int, num_classes: int) -> tuple[torch.Tensor, ...]:
    """G's inputs for tracing: a batch of 2, since torch.export specialises a dimension of size 1 (the
    batch would then be fixed); y only for a conditional G."""
    z = torch.randn(2, z_dim, generator=torch.Generator().manual_seed(0))
    return (z, torch.arange(2) % num_classes) if num_classes else (z,)


def _safetensors_bytes(G: nn.Module, meta: dict[str, str]) -> bytes:
    from safetensors.torch import save

    # a fresh contiguous copy of each tensor: safetensors refuses tensors that share memory
    tensors = {k: v.detach().contiguous().clone() for k, v in G.state_dict().items()}
    return save(tensors, metadata=meta)


def _onnx_bytes(G: nn.Module, example: tuple[torch.Tensor, ...], image: bool, meta: dict[str, str]) -> bytes:
    """G as an ONNX model with a dynamic batch axis, written by torch.export (``dynamo=True``): the
    legacy TorchScript exporter (``dynamo=False``) is deprecated in torch 2.15 and warns on every call."""
    batch = torch.export.Dim("batch")
    names = ["z", "y"][: len(example)]
    with warnings.catch_warnings():
        # "axis name batch will not be used, since it shares the same shape constraints": z and y share it, as meant
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            G,
            example,
            None,
            input_names=names,
            output_names=["images" if image else "points"],
            dynamo=True,
            dynamic_shapes=tuple({0: batch} for _ in example),
            opset_version=ONNX_OPSET,
            verbose=False,
        )
    assert program is not None  # f=None with dynamo=True returns the program
    program.model.metadata_props.update({f"gankit.{k}": v for k, v in meta.items()})
    try:
        return program.model_proto.SerializeToString()
    except ValueError as e:  # protobuf's 2 GiB limit on one message
        raise GankitError(f"the generator is too large for one ONNX file: {str(e).splitlines()[0][:160]}") from None


def _torchscript_bytes(G: nn.Module, example: tuple[torch.Tensor, ...], meta: dict[str, str]) -> bytes:
    """G traced (its eval-mode graph: batch norm on running statistics) and saved with torch.jit.save,
    the metadata as the extra file ``gankit.json``."""
    import io

    with warnings.catch_warnings():  # torch 2.15 calls torch.jit deprecated; TorchScript files still load
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(G, example)
        buf = io.BytesIO()
        torch.jit.save(traced, buf, _extra_files={"gankit.json": json.dumps(meta)})
    return buf.getvalue()


def export_generator(run: str | Path, fmt: str, out: str | Path | None = None, generator: str = "auto") -> Exported:
    """Export the sampling generator of a run (a run directory, or a checkpoint file in one) to ``out``
    (default :func:`default_export_path`) in format ``fmt`` (``safetensors``, ``onnx``, ``torchscript``).

    ``generator``: ``auto`` (the EMA copy of G when the run keeps one, else G), ``ema`` or ``raw``, as
    ``gankit sample --generator``. The file is written atomically; a missing package, run or
    checkpoint, an unwritable ``out`` or an export failure is one GankitError line."""
    if fmt not in FORMATS:
        raise GankitError(f"unknown export format {fmt!r}; valid: {', '.join(FORMATS)}")
    _require(fmt)  # before the run is loaded: the missing package is the first thing to fix
    loaded, source = load_generator_from(run, use="export it", generator=generator)
    path = Path(out) if out is not None else default_export_path(source, fmt, generator)
    if path.is_dir():
        raise GankitError(f"cannot export to {path}: it is a directory")
    check_writable(path.parent)
    G, n_cls = loaded.G.eval(), loaded.num_classes
    example = _example_inputs(loaded.config.model.z_dim, n_cls)
    with torch.no_grad():
        shape = tuple(G(*example).shape[1:])
    meta = _metadata(loaded, source, shape)
    try:
        if fmt == "safetensors":
            data = _safetensors_bytes(G, meta)
        elif fmt == "onnx":
            data = _onnx_bytes(G, example, len(shape) == 3, meta)
        else:
            data = _torchscript_bytes(G, example, meta)
    except GankitError:
        raise
    except Exception as e:  # the exporters raise many types (torch.export's, onnxscript's, the tracer's)
        if is_out_of_memory(e):
            raise  # the command's own one line for memory
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise GankitError(f"cannot export {source.key} of {source.run} to {fmt}: {first}") from None
    try:
        write_atomic(path, data)
    except OSError as e:
        raise GankitError(f"cannot write {path}: {e.strerror or e}") from None
    return Exported(path, fmt, source.key, loaded.step, meta)


def _read_metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as e:  # safetensors raises its own error types for a damaged header
        raise GankitError(
            f"cannot read {path}: {str(e).splitlines()[0][:160] if str(e) else type(e).__name__}"
        ) from None
    if meta.get("format") != METADATA_FORMAT:
        raise GankitError(f"{path} is not a generator exported by gankit (no {METADATA_FORMAT} metadata)")
    return meta


def load_safetensors_generator(path: str | Path) -> tuple[nn.Module, Config, int]:
    """(G in eval mode on the CPU, the run's config, number of classes) rebuilt from a safetensors file
    that :func:`export_generator` wrote: the network from the metadata's config, class count and output
    shape, then its weights. Needs gankit and safetensors, not the run directory."""
    _require("safetensors")
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise GankitError(f"file not found: {path}")
    meta = _read_metadata(path)
    try:
        cfg = build_config(json.loads(meta["config"]))
        n_cls = int(meta["num_classes"])
        shape = tuple(int(d) for d in json.loads(meta["output_shape"]))
    except (KeyError, ValueError, TypeError) as e:  # a hand-edited header
        raise GankitError(f"{path} is damaged: its metadata does not describe a generator ({e})") from None
    with torch.random.fork_rng(devices=[]):  # initial weights, overwritten: leave the caller's RNG alone
        G, _ = build_nets(cfg.model, shape, n_cls)
    try:
        G.load_state_dict(load_file(str(path)))
    except RuntimeError as e:
        raise GankitError(f"{path} does not fit its own metadata: {str(e).splitlines()[0][:160]}") from None
    return G.eval(), cfg, n_cls
