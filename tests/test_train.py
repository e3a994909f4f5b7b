import math

import pytest
import torch

from gankit.config import load_config
from gankit.objectives import OBJECTIVES
from gankit.evaluate import evaluate_toy
from gankit.build import build_run
from gankit.training import train

QUIET = ["train.progress=false", "train.tensorboard=false"]


def tiny(*extra, preset="ring8"):
    return load_config(
        preset,
        overrides=[
            "train.steps=1",
            "train.batch_size=16",
            "train.eval_samples=64",
            "model.g_hidden=16",
            "model.d_hidden=16",
            *QUIET,
            *extra,
        ],
    )


def params(m):
    return torch.cat([p.detach().flatten() for p in m.parameters()])


@pytest.mark.parametrize("name", OBJECTIVES.names())
def test_one_step_per_objective_moves_both_networks(name):
    cfg = tiny(f"objective.name={name}")
    _, G0, D0 = build_run(cfg, torch.device("cpu"))
    res = train(cfg)
    assert not torch.equal(params(G0), params(res.G))
    assert not torch.equal(params(D0), params(res.D))
    assert math.isfinite(res.stats["loss/d"]) and math.isfinite(res.stats["loss/g"])
    if name == "wasserstein":  # weight clipping keeps D's parameters within [−c, c]
        assert params(res.D).abs().max().item() <= 0.01 + 1e-7
    if name == "wgan-gp":
        assert "loss/gp" in res.stats


def test_r1_and_d_steps():
    res = train(tiny("objective.r1_gamma=1.0", "train.d_steps=3"))
    assert res.stats["loss/r1"] > 0


def test_same_seed_same_networks_other_seed_other_networks():
    a = train(tiny("train.steps=3"))
    b = train(tiny("train.steps=3"))
    c = train(tiny("train.steps=3", "train.seed=1"))
    assert torch.equal(params(a.G), params(b.G)) and torch.equal(params(a.D), params(b.D))
    assert not torch.equal(params(a.G), params(c.G))


def test_1d_target_logs_jsd_by_pushforward():
    res = train(tiny(preset="gauss1d"))
    assert 0 <= res.stats["toy/jsd"] <= math.log(2)
    assert "toy/modes" not in res.stats  # one Gaussian: no modes to count


def test_callback_sees_every_step():
    seen = []
    train(tiny("train.steps=4"), callback=lambda step, G, D: seen.append(step))
    assert seen == [0, 1, 2, 3, 4]


def test_short_training_learns_a_gaussian():
    # 500 steps move p_g from G's initial output (a spike near 0, JSD ≈ log 2) onto N(2, 0.5²).
    cfg = load_config("gauss1d", overrides=["train.steps=500", "train.lr_schedule=constant", *QUIET])
    target, G0, _ = build_run(cfg, torch.device("cpu"))
    res = train(cfg)
    assert evaluate_toy(G0, target, 1)["toy/jsd"] > 0.6
    assert evaluate_toy(res.G, target, 1)["toy/jsd"] < 0.1


IMAGE_NETS = [
    ("dcgan", 8, False, "nonsaturating"),
    ("dcgan", 16, True, "hinge"),
    ("dcgan", 28, False, "wgan-gp"),
    ("sngan", 32, False, "hinge"),
    ("sngan", 32, True, "hinge"),
]


@pytest.mark.parametrize("net,res,cond,objective", IMAGE_NETS)
def test_one_step_on_images(net, res, cond, objective):
    cfg = load_config(
        "digits",
        overrides=[
            f"model.name={net}",
            f"data.resolution={res}",
            f"model.conditional={cond}",
            f"objective.name={objective}",
            "model.g_hidden=8",
            "model.d_hidden=8",
            "model.z_dim=8",
            "train.steps=1",
            "train.batch_size=4",
            "train.augment=color,translation,cutout",
            "train.ema_kimg=1",
            "data.hflip=true",
            "train.eval_features=",
            *QUIET,
        ],
    )
    _, G0, D0 = build_run(cfg, torch.device("cpu"))
    res_ = train(cfg)
    assert not torch.equal(params(G0), params(res_.G)) and not torch.equal(params(D0), params(res_.D))
    assert math.isfinite(res_.stats["loss/d"]) and math.isfinite(res_.stats["loss/g"])
    # The EMA's first update copies G (as AveragedModel does), so after one step G_ema = G1.
    assert torch.equal(params(res_.G_ema), params(res_.G))


def test_ema_follows_the_ramped_decay():
    """G_ema_s = β_s·G_ema_(s−1) + (1 − β_s)·G_s with β_s = ½^(B/h_s), h_s = min(1000·ema_kimg,
    ema_rampup·(s − 1)·B) (stylegan2-ada). Batch 4, ema_kimg 0.01 (10 images), ramp 0.5: step 1 copies
    G (h = 0), β_2 = ½^(4/2) = ¼, β_3 = ½^(4/4) = ½, β_4 = ½^(4/min(10, 6)) = ½^(2/3)."""
    cfg = load_config(
        "digits",
        overrides=[
            "train.steps=4",
            "train.batch_size=4",
            "train.ema_kimg=0.01",
            "train.ema_rampup=0.5",
            "train.eval_features=",
            "model.g_hidden=8",
            "model.d_hidden=8",
            *QUIET,
        ],
    )
    snaps = {}
    res = train(cfg, callback=lambda step, G, D: snaps.setdefault(step, params(G).clone()))
    expected = snaps[1]
    for step, beta in ((2, 0.25), (3, 0.5), (4, 0.5 ** (2 / 3))):
        expected = beta * expected + (1 - beta) * snaps[step]
    assert not torch.equal(snaps[3], snaps[4])
    torch.testing.assert_close(params(res.G_ema), expected, rtol=1e-5, atol=1e-6)


def test_the_ramp_starts_the_average_on_g_and_a_constant_decay_lags():
    """The weight left on the untrained G_1 after s steps is Π β_i: with the ramp ½^(H_(s−1)/r)
    (H the harmonic number: 2⁻²⁰ after step 2 at r = 0.05), without it d^(s−1) (0.999: 0.37 after 1,000 steps)."""
    from gankit.ema import ema_beta

    B = 64
    ramped = [ema_beta(s, B, 20, 0.05) for s in range(1, 1001)]
    assert ramped[0] == 0.0 and ramped[1] == pytest.approx(2.0**-20)
    weight_on_first = math.prod(ramped[1:])
    assert weight_on_first == pytest.approx(0.5 ** (sum(1 / (i - 1) for i in range(2, 1001)) / 0.05), rel=1e-9)
    assert weight_on_first < 1e-40
    constant = [ema_beta(s, B, 0.001 * B * math.log(0.5) / math.log(0.999), None) for s in range(2, 1001)]
    assert all(b == pytest.approx(0.999, rel=1e-12) for b in constant)
    assert math.prod(constant) == pytest.approx(0.999**999, rel=1e-9)  # ≈ 0.37 of G_1 still in G_ema
    # the half-life: after h images (h/B steps) at a fixed β an update's weight has halved
    assert ema_beta(10**6, B, 20, 0.05) ** (20000 / B) == pytest.approx(0.5)


def test_image_nets_reject_toy_data_and_vice_versa():
    from gankit.errors import GankitError

    with pytest.raises(GankitError, match="needs an image dataset"):
        load_config("ring8", overrides=["model.name=dcgan"])
    with pytest.raises(GankitError, match="use model.name=dcgan, sngan, biggan or r3gan"):
        load_config("digits", overrides=["model.name=mlp"])
    with pytest.raises(GankitError, match="SNGAN ResNets are for 32×32"):
        train(load_config("digits", overrides=["model.name=sngan", *QUIET]))


@pytest.mark.parametrize(
    "objective,extra",
    [
        ("nonsaturating", []),
        ("wgan-gp", ["train.d_steps=2"]),
        ("hinge", ["objective.r1_gamma=1.0", "model.conditional=true"]),
    ],
)
def test_fast_path_losses_follow_the_fp32_path(objective, extra, tmp_path):
    """bf16 autocast + channels_last + fused Adam (the GPU default, forced on here on the CPU): the
    first steps' losses stay within bf16 tolerance of the fp32 eager run from the same seed."""
    from gankit.stats import read_jsonl

    losses = {}
    for fast in ("false", "true"):
        cfg = load_config(
            "digits",
            overrides=[
                "train.steps=5",
                "train.batch_size=16",
                "train.lr_g=2e-4",  # Adam moves a weight by up to lr a step: bf16's drift in 5 steps grows with it
                "train.lr_d=2e-4",
                "train.log_every=1",
                "train.eval_features=",
                f"objective.name={objective}",
                f"train.fast={fast}",
                *extra,
                *QUIET,
            ],
        )
        train(cfg, tmp_path / fast)
        losses[fast] = [(r["loss/d"], r["loss/g"]) for r in read_jsonl(tmp_path / fast / "metrics.jsonl")]
    assert len(losses["true"]) == 5
    for (d32, g32), (d16, g16) in zip(losses["false"], losses["true"]):
        assert d16 == pytest.approx(d32, rel=2e-2, abs=2e-2) and g16 == pytest.approx(g32, rel=2e-2, abs=2e-2)
    assert losses["true"] != losses["false"]  # the fast path did run (bf16 rounding shows)


def test_evaluation_during_training_does_not_change_training():
    """Metrics mid-run (own seeded noise, the EMA copy in eval mode) leave the networks as a run without them."""
    runs = {}
    for features in ("classifier", ""):
        cfg = load_config(
            "digits",
            overrides=[
                "train.steps=4",
                "train.batch_size=8",
                "train.eval_every=2",
                "train.eval_samples=20",
                f"train.eval_features={features}",
                *QUIET,
            ],
        )
        runs[features] = train(cfg)
    assert "eval/classifier/fid" in runs["classifier"].stats
    assert torch.equal(params(runs["classifier"].G), params(runs[""].G))
    assert torch.equal(params(runs["classifier"].D), params(runs[""].D))


@pytest.mark.parametrize("name", OBJECTIVES.names())
def test_v_and_d_of_x_are_logged_for_the_minimax_family_only(name):
    res = train(tiny(f"objective.name={name}"))
    logged = {"V", "D/real", "D/fake"} <= res.stats.keys()
    assert logged == (name in ("minimax", "nonsaturating"))
    if logged:  # V = E log D(x) + E log(1 − D(G(z))) ≤ 0, and D's outputs are probabilities
        assert res.stats["V"] <= 0 and 0 < res.stats["D/real"] < 1 and 0 < res.stats["D/fake"] < 1


def test_toy_metrics_measure_the_generator_that_samples():
    """One rule for every metric, figure and sample: the EMA copy of G when there is one."""
    cfg = tiny("train.steps=3", "train.ema_kimg=0.5", "train.ema_rampup=null", preset="gauss1d")
    res = train(cfg)
    assert res.G_ema is not res.G
    assert res.stats["toy/jsd"] == evaluate_toy(res.G_ema, res.target, 1)["toy/jsd"]
    assert res.stats["raw/toy/jsd"] == evaluate_toy(res.G, res.target, 1)["toy/jsd"]  # both generators measured
    assert res.stats["toy/jsd"] != res.stats["raw/toy/jsd"]
