"""A finished run's networks, as train() leaves them in memory and as load_generator reads them back from the
run directory, draw the same samples from the same noise: the EMA copy and the raw G alike."""

import pytest
import torch

from gankit.config import load_config
from gankit.generate import generate
from gankit.runs import load_generator
from gankit.training import train

QUIET = ["train.progress=false", "train.tensorboard=false"]
CPU = ["train.device=cpu"]  # the loaded generator is on the CPU; so must the trained one be, for equal samples

PRESETS = {
    # a small EMA half-life, so that after a few steps G_ema is not G (nor its initial copy)
    "ring8": [
        "train.steps=4",
        "train.batch_size=16",
        "train.eval_samples=64",
        "model.g_hidden=16",
        "model.d_hidden=16",
        "train.ema_kimg=0.01",
        "train.ema_rampup=null",
    ],
    "digits": [
        "train.steps=3",
        "train.batch_size=16",
        "model.g_hidden=8",
        "model.d_hidden=8",
        "train.eval_features=none",
        "train.sample_every=0",
        "train.ema_rampup=0.5",  # half-life 16 images at step 3 (β = ½): at the preset's 1%, G_ema = G to 2⁻⁵⁰
    ],
}


@pytest.fixture(scope="module", params=sorted(PRESETS))
def trained(request, tmp_path_factory):
    preset = request.param
    cfg = load_config(preset, overrides=[*PRESETS[preset], *QUIET, *CPU])
    run = tmp_path_factory.mktemp(preset) / "run"
    torch.manual_seed(0)
    return cfg, run, train(cfg, run)


def _samples(G, cfg, seed=3):
    return generate(G, 16, cfg.model.z_dim, seed=seed)


@pytest.mark.parametrize("which", ["ema", "raw"])
def test_the_loaded_generator_samples_what_the_trained_one_does(trained, which):
    cfg, run, res = trained
    G_mem = res.G_ema if which == "ema" else res.G
    loaded = load_generator(run, generator=which)
    assert loaded.step == cfg.train.steps == res.step and loaded.num_classes == 0 and not loaded.G.training
    assert loaded.config.model == cfg.model
    assert torch.equal(_samples(loaded.G, cfg), _samples(G_mem, cfg))
    assert torch.equal(_samples(loaded.G, cfg, seed=4), _samples(G_mem, cfg, seed=4))


def test_auto_is_the_ema_copy_and_it_differs_from_the_raw_g(trained):
    cfg, run, res = trained
    assert res.G_ema is not res.G  # both presets keep an EMA here
    ema = load_generator(run).G
    raw = load_generator(run, generator="raw").G
    assert torch.equal(_samples(ema, cfg), _samples(res.G_ema, cfg))
    # otherwise the test above could not tell the two apart
    assert not torch.equal(_samples(ema, cfg), _samples(raw, cfg))
