"""The sample figures a run writes (gankit.figures), and what plotting depends on (gankit.plots)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from PIL import Image

from gankit.config import load_config
from gankit.figures import SAMPLE_SEED, sample_figure, toy_figure
from gankit.generate import generate
from gankit.plots import plot_toy_panels
from gankit.training import train

QUIET = ["train.progress=false", "train.tensorboard=false"]


def _trained(preset: str, *overrides: str):
    cfg = load_config(
        preset,
        None,
        ["train.steps=2", "train.batch_size=16", "model.g_hidden=16", "model.d_hidden=16", *overrides, *QUIET],
    )
    return cfg, train(cfg)


@pytest.fixture
def drawn(monkeypatch) -> list[list[str]]:
    """Every figure saved during the test, as the texts it holds: titles, labels, legends, tick labels
    (drawn first, so that they exist) and annotations."""
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    figures: list[list[str]] = []
    save = Figure.savefig

    def spy(self, *args, **kwargs):
        self.canvas.draw()
        figures.append([t.get_text() for t in self.findobj(Text) if t.get_text()])
        return save(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    return figures


@pytest.mark.parametrize("preset", ["gauss1d", "ring8"])
def test_toy_figure_leaves_rng_and_modes_alone(preset, tmp_path):
    cfg, res = _trained(preset)
    res.G.train()
    res.D.train()
    state = torch.get_rng_state()
    path = tmp_path / "panels.png"
    toy_figure(path, res.G, res.D, res.target, cfg.model.z_dim, f"{preset}, step 2", n=4096)
    assert torch.equal(torch.get_rng_state(), state)
    assert res.G.training and res.D.training
    with Image.open(path) as im:
        w, h = im.size
    assert (w, h) == ((750, 380) if preset == "gauss1d" else (1000, 460))


@pytest.mark.parametrize("preset", ["gauss1d", "ring8"])
def test_toy_figure_draws_d_as_a_probability_only_when_asked(preset, tmp_path, drawn):
    """σ(logit) is D(x), with D* its optimum and ½ its equilibrium, only for the minimax family: with
    ``probabilistic=False`` (a hinge critic) the figure shows D's raw output and no D*, sigmoid or ½."""
    cfg, res = _trained(preset, "objective.name=hinge")
    sizes = []
    for probabilistic in (True, False):
        path = tmp_path / f"panels-{probabilistic}.png"
        toy_figure(path, res.G, res.D, res.target, cfg.model.z_dim, "t", probabilistic, n=4096)
        with Image.open(path) as im:
            sizes.append(im.size)
    as_probability, as_score = (set(f) for f in drawn)
    said = [lambda t: "D*" in t, lambda t: "sigmoid" in t or t == "D(x)", lambda t: "not a probability" in t]
    assert [any(map(s, as_probability)) for s in said] == [preset == "gauss1d", True, False]  # D* in 1-D only
    assert [any(map(s, as_score)) for s in said] == [False, False, True]
    assert sizes[0] == sizes[1]


def test_sample_figure_draws_the_samples_of_the_fixed_seed(tmp_path):
    """The training loop's toy figure is plot_toy_panels of 2^16 samples of G on SAMPLE_SEED's noise: drawn
    from samples the caller took, the same picture comes out."""
    cfg, res = _trained("ring8")
    sample_figure(tmp_path / "loop.png", res.G, res.D, res.target, cfg.model.z_dim, 0, "ring8", True)
    x = generate(res.G, 2**16, cfg.model.z_dim, seed=SAMPLE_SEED).double()

    @torch.no_grad()
    def d_of(points: torch.Tensor) -> torch.Tensor:
        res.D.eval()
        return torch.sigmoid(res.D(points.float()).double().flatten())

    plot_toy_panels(x, d_of, res.target, tmp_path / "direct.png", "ring8")
    with Image.open(tmp_path / "loop.png") as a, Image.open(tmp_path / "direct.png") as b:
        assert a.size == b.size and a.tobytes() == b.tobytes()


def test_plotting_samples_no_generator():
    """gankit.plots draws what it is given: importing it loads neither the generator's sampling, the
    networks, nor the training loop."""
    script = "import sys, gankit.plots; print(' '.join(m for m in sys.modules if m.startswith('gankit.')))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.split()) <= {"gankit.plots"}
