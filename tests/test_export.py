"""gankit export: each format, loaded back by its own runtime (safetensors rebuilt from its metadata,
onnxruntime, torch.jit.load), gives what the run's generator gives on the same z (and y): for a
class-conditional image run with an EMA copy of G and for a toy run."""

import json
import sys

import pytest
import torch

from gankit.cli import main
from gankit.config import build_config, load_config, read_config
from gankit.nets import build_nets
from gankit.runs import load_generator
from gankit.training import train

QUIET = ["train.progress=false", "train.tensorboard=false", "train.device=cpu", "train.sample_every=0"]
RUNS = {
    # conditional, with an EMA of a short half-life (so G_ema is neither G nor its first copy), a checkpoint
    # at each step and both kept (a step checkpoint that is not last.pt)
    "digits": [
        "model.conditional=true",
        "train.steps=2",
        "train.batch_size=8",
        "model.g_hidden=8",
        "model.d_hidden=8",
        "train.eval_features=none",
        "train.ema_kimg=0.001",
        "train.ema_rampup=null",
        "train.checkpoint_every=1",
        "train.keep_checkpoints=2",
    ],
    "ring8": [
        "train.steps=2",
        "train.batch_size=16",
        "train.ema_kimg=0",  # the run without an EMA copy of G
        "model.g_hidden=16",
        "model.d_hidden=16",
        "train.eval_samples=64",
    ],
}
SUFFIX = {"safetensors": ".safetensors", "onnx": ".onnx", "torchscript": ".pt"}


@pytest.fixture(scope="module", params=sorted(RUNS))
def trained(request, tmp_path_factory):
    preset = request.param
    run = tmp_path_factory.mktemp(preset) / "run"
    train(load_config(preset, overrides=[*RUNS[preset], *QUIET]), run)
    return run


def cli(args, capsys):
    """(exit code, stdout, stderr) of the command line ``args``."""
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def inputs(run, n=5, seed=1):
    """z [n, z_dim] and, for a conditional run, y [n]: a batch other than the 2 the export traced with."""
    loaded = load_generator(run)
    z = torch.randn(n, loaded.config.model.z_dim, generator=torch.Generator().manual_seed(seed))
    y = torch.arange(n) % loaded.num_classes if loaded.num_classes else None
    return loaded, z, y


def rebuilt_from_safetensors(path):
    """G rebuilt from nothing but the file: the network from its metadata, then its weights."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    cfg = build_config(json.loads(meta["config"]))
    G, _ = build_nets(cfg.model, tuple(json.loads(meta["output_shape"])), int(meta["num_classes"]))
    G.load_state_dict(load_file(str(path)))
    return G.eval(), meta


def exported_outputs(path, fmt, z, y):
    """What the exported file gives for (z, y), run by the format's own runtime."""
    if fmt == "safetensors":
        G, _ = rebuilt_from_safetensors(path)
        with torch.no_grad():
            return G(z, y)
    if fmt == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feed = {"z": z.numpy()} | ({"y": y.numpy()} if y is not None else {})
        assert [i.name for i in session.get_inputs()] == list(feed)
        return torch.from_numpy(session.run(None, feed)[0])
    module = torch.jit.load(str(path))
    with torch.no_grad():
        return module(z, y) if y is not None else module(z)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
@pytest.mark.parametrize("fmt", ["safetensors", "onnx", "torchscript"])
def test_an_export_gives_what_the_generator_gives(trained, fmt, capsys):
    code, out, err = cli(["export", trained, "--format", fmt], capsys)
    assert code == 0, err
    path = trained / "export" / f"generator{SUFFIX[fmt]}"
    assert path.is_file() and str(path) in out
    loaded, z, y = inputs(trained)
    with torch.no_grad():
        want = loaded.G(z, y)
    got = exported_outputs(path, fmt, z, y)
    assert got.shape == want.shape == (5, *((1, 16, 16) if loaded.num_classes else (2,)))
    if fmt == "onnx":  # another runtime's kernels: float32 rounding differs
        torch.testing.assert_close(got, want, atol=1e-4, rtol=0)
    elif fmt == "torchscript":  # the traced graph runs the same kernels
        torch.testing.assert_close(got, want, atol=1e-6, rtol=0)
    else:  # the same network rebuilt
        assert torch.equal(got, want)
    if loaded.num_classes:  # images in [-1, 1], and the class input matters
        assert got.abs().max() <= 1
        other = exported_outputs(path, fmt, z, (y + 1) % loaded.num_classes)
        assert not torch.allclose(other, got)
    # any batch size, one included
    one = exported_outputs(path, fmt, z[:1], None if y is None else y[:1])
    torch.testing.assert_close(one, want[:1], atol=1e-4, rtol=0)


def test_safetensors_metadata_describes_the_run(trained, capsys):
    from gankit.export import load_safetensors_generator

    out = trained / "g.safetensors"
    code, _, err = cli(["export", trained, "--format", "safetensors", "--out", out], capsys)
    assert code == 0, err
    G, meta = rebuilt_from_safetensors(out)
    cfg = read_config(trained / "config.yaml")
    assert json.loads(meta["config"]) == cfg.model_dump(mode="json")
    conditional = cfg.model.conditional
    assert (meta["z_dim"], meta["num_classes"]) == (str(cfg.model.z_dim), "10" if conditional else "0")
    assert json.loads(meta["output_shape"]) == ([1, 16, 16] if conditional else [2])
    assert meta["generator"] == ("G_ema" if conditional else "G") and meta["step"] == "2"
    G2, cfg2, n_cls = load_safetensors_generator(out)
    assert cfg2 == cfg and n_cls == int(meta["num_classes"])
    assert all(torch.equal(a, b) for a, b in zip(G.state_dict().values(), G2.state_dict().values()))


@pytest.fixture
def digits_run(trained):
    if not read_config(trained / "config.yaml").model.conditional:
        pytest.skip("needs the conditional run, with an EMA and two checkpoints")
    return trained


def test_raw_g_and_a_step_checkpoint_are_exported_as_asked(digits_run, capsys):
    ckpts = digits_run / "checkpoints"
    last, first = (torch.load(ckpts / f, weights_only=True) for f in ("last.pt", "step_000001.pt"))
    code, out, err = cli(["export", digits_run, "--format", "safetensors", "--generator", "raw"], capsys)
    assert code == 0 and out.startswith("G (step 2)"), err
    G, _ = rebuilt_from_safetensors(digits_run / "export" / "generator-raw.safetensors")
    assert all(torch.equal(v, last["G"][k]) for k, v in G.state_dict().items())
    # a step checkpoint in place of the run directory: its own weights, and a file of its own
    code, out, err = cli(["export", ckpts / "step_000001.pt", "--format", "safetensors"], capsys)
    assert code == 0 and out.startswith("G_ema (step 1)"), err
    G, meta = rebuilt_from_safetensors(digits_run / "export" / "generator-step_000001.safetensors")
    assert meta["step"] == "1" and meta["checkpoint"] == "step_000001.pt"
    assert all(torch.equal(v, first["G_ema"][k]) for k, v in G.state_dict().items())
    assert not all(torch.equal(first["G_ema"][k], last["G_ema"][k]) for k in first["G_ema"])


def test_export_errors_are_one_line(trained, tmp_path, capsys, monkeypatch):
    def one_line(args, message):
        code, _, err = cli(args, capsys)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("gankit: error: ") and message in lines[0], err

    one_line(["export", trained, "--format", "pdf"], "'pdf' is not one of 'safetensors', 'onnx', 'torchscript'")
    one_line(["export", trained], "Missing option '--format'")
    one_line(["export", tmp_path / "none", "--format", "onnx"], "run directory not found")
    one_line(["export", tmp_path / "none.pt", "--format", "onnx"], "checkpoint not found")
    (tmp_path / "stray.pt").write_bytes(b"")
    one_line(["export", tmp_path / "stray.pt", "--format", "onnx"], "neither a run directory nor a checkpoint in one")
    one_line(["export", trained, "--format", "torchscript", "--out", tmp_path], "is a directory")
    if not load_generator(trained).num_classes:
        one_line(["export", trained, "--format", "onnx", "--generator", "ema"], "kept no EMA copy of G")
    for modules, fmt in ((["onnxscript"], "onnx"), (["safetensors", "safetensors.torch"], "safetensors")):
        with monkeypatch.context() as m:
            for module in modules:  # as if it were not installed (a submodule imported already included)
                m.setitem(sys.modules, module, None)
            one_line(
                ["export", trained, "--format", fmt], f"pip install 'gankit[export]' (or pip install {modules[0]})"
            )
    assert not list(tmp_path.glob(".*.tmp"))  # the refused --out left nothing behind
