import math

import pytest
import torch

from gankit.config import load_config
from gankit.objectives import OBJECTIVES
from gankit.evaluate import evaluate_toy
from gankit.train import build_run, train

QUIET = ["train.progress=false", "train.tensorboard=false"]


def tiny(*extra, preset="ring8"):
    return load_config(preset, overrides=[
        "train.steps=1", "train.batch_size=16", "train.eval_samples=64",
        "model.g_hidden=16", "model.d_hidden=16", *QUIET, *extra])


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
    cfg = load_config("digits", overrides=[
        f"model.name={net}", f"data.resolution={res}", f"model.conditional={cond}", f"objective.name={objective}",
        "model.g_hidden=8", "model.d_hidden=8", "model.z_dim=8", "train.steps=1", "train.batch_size=4",
        "train.augment=color,translation,cutout", "train.ema=0.9", "data.hflip=true", "train.eval_features=", *QUIET])
    _, G0, D0 = build_run(cfg, torch.device("cpu"))
    res_ = train(cfg)
    assert not torch.equal(params(G0), params(res_.G)) and not torch.equal(params(D0), params(res_.D))
    assert math.isfinite(res_.stats["loss/d"]) and math.isfinite(res_.stats["loss/g"])
    # The EMA's first update copies G (as AveragedModel does), so after one step G_ema = G1.
    assert torch.equal(params(res_.G_ema), params(res_.G))


def test_ema_averages_g_after_its_first_update():
    """G_ema after step 2 = decay·G1 + (1 − decay)·G2 (eq. of an exponential moving average), G1
    being G after step 1, which the first update copied."""
    decay = 0.9
    cfg = load_config("digits", overrides=["train.steps=2", "train.batch_size=4", f"train.ema={decay}",
                                           "train.eval_features=", "model.g_hidden=8", "model.d_hidden=8", *QUIET])
    snaps = {}
    res = train(cfg, callback=lambda step, G, D: snaps.setdefault(step, params(G).clone()))
    expected = decay * snaps[1] + (1 - decay) * snaps[2]
    assert not torch.equal(snaps[1], snaps[2])
    torch.testing.assert_close(params(res.G_ema), expected, rtol=1e-6, atol=1e-7)


def test_image_nets_reject_toy_data_and_vice_versa():
    from gankit.errors import GankitError

    with pytest.raises(GankitError, match="needs an image dataset"):
        load_config("ring8", overrides=["model.name=dcgan"])
    with pytest.raises(GankitError, match="use model.name=dcgan or sngan"):
        load_config("digits", overrides=["model.name=mlp"])
    with pytest.raises(GankitError, match="SNGAN ResNets are for 32×32"):
        train(load_config("digits", overrides=["model.name=sngan", *QUIET]))


@pytest.mark.parametrize("objective,extra", [("nonsaturating", []), ("wgan-gp", ["train.d_steps=2"]),
                                             ("hinge", ["objective.r1_gamma=1.0", "model.conditional=true"])])
def test_fast_path_losses_follow_the_fp32_path(objective, extra, tmp_path):
    """bf16 autocast + channels_last + fused Adam (the GPU default, forced on here on the CPU): the
    first steps' losses stay within bf16 tolerance of the fp32 eager run from the same seed."""
    from gankit.stats import read_jsonl

    losses = {}
    for fast in ("false", "true"):
        cfg = load_config("digits", overrides=[
            "train.steps=5", "train.batch_size=16", "train.log_every=1", "train.eval_features=",
            f"objective.name={objective}", f"train.fast={fast}", *extra, *QUIET])
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
        cfg = load_config("digits", overrides=["train.steps=4", "train.batch_size=8", "train.eval_every=2",
                                               "train.eval_samples=20", f"train.eval_features={features}", *QUIET])
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
    cfg = tiny("train.steps=3", "train.ema=0.5", preset="gauss1d")
    res = train(cfg)
    assert res.G_ema is not res.G
    assert res.stats["toy/jsd"] == evaluate_toy(res.G_ema, res.target, 1)["toy/jsd"]
    assert res.stats["toy/jsd"] != evaluate_toy(res.G, res.target, 1)["toy/jsd"]
