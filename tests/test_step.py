"""The parts of a training step (gankit.training.step): drawing the batch, the D update, the G
update, the EMA and the statistics, each on its own."""

from __future__ import annotations

import contextlib
import copy

import pytest
import torch
from torch import nn

from gankit.data import ImageData
from gankit.distributed import World
from gankit.distributions import make_target
from gankit.objectives import get_objective
from gankit.training.step import Batches, StepParts, d_update, g_update, step_statistics, train_step


class Shift(nn.Module):
    """G(z) = z + b: a generator whose output moves with one parameter vector."""

    def __init__(self, dim: int = 2):
        super().__init__()
        self.b = nn.Parameter(torch.zeros(dim))

    def forward(self, z, y=None):
        return z + self.b


class Linear(nn.Module):
    """D(x) = w·x + c: logits [B]."""

    def __init__(self, dim: int = 2):
        super().__init__()
        self.lin = nn.Linear(dim, 1)

    def forward(self, x, y=None):
        return self.lin(x).squeeze(-1)


def _parts(objective="minimax", d_steps=1, lr=0.1, **kw) -> StepParts:
    torch.manual_seed(0)
    G, D = Shift(), Linear()
    target = make_target("ring8")
    batches = Batches(target, None, None, 0, 2, 16, World(), torch.device("cpu"))
    return StepParts(
        G,
        D,
        G,
        D,
        torch.optim.SGD(D.parameters(), lr=lr),
        torch.optim.SGD(G.parameters(), lr=lr),
        get_objective(objective),
        batches,
        contextlib.nullcontext,
        d_steps=d_steps,
        **kw,
    )


def _penalties():
    return {"loss/gp": [], "loss/r1": [], "loss/r2": []}


@pytest.mark.parametrize("images", [False, True])
def test_each_process_draws_its_slice_of_the_global_batch(images):
    """Data-parallel rank r of n gets rows r·B to (r+1)·B of what one process draws for the global
    batch n·B from the same random state (gankit.distributed's scheme)."""
    data = (
        ImageData(torch.randint(0, 256, (50, 1, 4, 4), dtype=torch.uint8), torch.arange(50) % 5, 5, "toy-images")
        if images
        else None
    )
    target = None if images else make_target("ring8")

    def draw(world, batch):
        b = Batches(
            target,
            data.images if images else None,
            data.labels if images else None,
            5 if images else 0,
            3,
            batch,
            world,
            torch.device("cpu"),
            hflip=images,
        )
        torch.manual_seed(7)
        return b.real(), b.noise(), b.mixing()

    (x, y), (z, yz), eps = draw(World(), 8)
    (x1, y1), (z1, yz1), eps1 = draw(World(rank=1, size=2), 4)
    assert torch.equal(x1, x[4:]) and torch.equal(z1, z[4:]) and torch.equal(eps1, eps[4:])
    if images:
        assert torch.equal(y1, y[4:]) and torch.equal(yz1, yz[4:])
        assert x.min() >= -1 and x.max() <= 1  # images in the networks' range
    else:
        assert y is None and yz is None


def test_the_d_update_minimises_the_objectives_d_loss_on_that_batch():
    """loss_d is d_loss(D(x), D(G(z))) on the batch it drew (the same draws replayed), and one SGD step
    moves D's parameters by −lr times its gradient; G is untouched."""
    p = _parts()
    w0 = [q.detach().clone() for q in p.D.parameters()]
    g0 = p.G.b.detach().clone()
    torch.manual_seed(3)
    d = d_update(p, last=True, penalties=_penalties())
    torch.manual_seed(3)
    x, _ = p.batches.real()
    z, _ = p.batches.noise()
    D0 = Linear()
    D0.load_state_dict({"lin.weight": w0[0], "lin.bias": w0[1]})
    expect = get_objective("minimax").d_loss(D0(x), D0(z + g0))
    assert d.loss_d.item() == pytest.approx(expect.item(), rel=1e-6)
    grads = torch.autograd.grad(expect, list(D0.parameters()))
    for w, before, g in zip(p.D.parameters(), w0, grads):
        assert torch.allclose(w, before - 0.1 * g, atol=1e-6)
    assert torch.equal(p.G.b, g0)


def test_accumulated_updates_step_once_on_the_mean_gradient_of_their_micro_batches():
    """train.accumulate = 2: D's update is one SGD step on the mean of the two micro-batches' gradients
    (each drawn as a batch is: real, then noise), and its logged loss their mean; G's likewise over two
    fresh noise batches. Replayed by hand from the same draws."""
    p, ref = _parts(accumulate=2), _parts()
    w0 = [q.detach().clone() for q in p.D.parameters()]
    torch.manual_seed(4)
    d = d_update(p, last=True, penalties=_penalties())
    torch.manual_seed(4)
    losses = []
    for _ in range(2):
        x, _ = ref.batches.real()
        z, _ = ref.batches.noise()
        losses.append(get_objective("minimax").d_loss(ref.D(x), ref.D(ref.G(z).detach())))
    mean = (losses[0] + losses[1]) / 2
    grads = torch.autograd.grad(mean, list(ref.D.parameters()))
    assert d.loss_d.item() == pytest.approx(mean.item(), rel=1e-6)
    for w, before, g in zip(p.D.parameters(), w0, grads):
        assert torch.allclose(w, before - 0.1 * g, atol=1e-6)
    # G: the same D (copied), two noise batches
    ref.D.load_state_dict(p.D.state_dict())
    b0 = p.G.b.detach().clone()
    torch.manual_seed(5)
    loss_g = g_update(p, d)
    torch.manual_seed(5)
    gl = [get_objective("minimax").g_loss(None, ref.D(ref.G(ref.batches.noise()[0]))) for _ in range(2)]
    (gb,) = torch.autograd.grad((gl[0] + gl[1]) / 2, [ref.G.b])
    assert loss_g.item() == pytest.approx(((gl[0] + gl[1]) / 2).item(), rel=1e-6)
    assert torch.allclose(p.G.b, b0 - 0.1 * gb, atol=1e-6)


def test_penalties_and_clipping_of_the_d_update():
    """R1, R2 and the GP are logged per D update; clipping holds D's parameters in [−c, c]."""
    p = _parts(objective="wgan-gp", gp_weight=10.0, r1_gamma=1.0, r2_gamma=1.0, clip=0.05)
    pen = _penalties()
    w_first = [q.detach().clone() for q in p.D.parameters()]
    d_update(p, last=False, penalties=pen)
    d_update(p, last=True, penalties=pen)
    assert len(pen["loss/gp"]) == len(pen["loss/r1"]) == len(pen["loss/r2"]) == 2
    # D is linear: ∇ₓD = w everywhere, so R1 = R2 = ‖w‖² and GP = (‖w‖ − 1)² with the w of that update
    assert float(pen["loss/r1"][0]) == pytest.approx(float(w_first[0].square().sum()), rel=1e-5)
    assert all(torch.equal(a, b) for a, b in zip(pen["loss/r1"], pen["loss/r2"]))
    assert all(q.abs().max() <= 0.05 for q in p.D.parameters())


def test_the_g_update_moves_g_only_and_leaves_d_trainable():
    p = _parts(objective="nonsaturating")
    d = d_update(p, last=True, penalties=_penalties())
    w = [q.detach().clone() for q in p.D.parameters()]
    b = p.G.b.detach().clone()
    loss_g = g_update(p, d)
    assert torch.isfinite(loss_g)
    assert all(torch.equal(a, q) for a, q in zip(w, p.D.parameters()))
    assert not torch.equal(p.G.b, b)
    assert all(q.requires_grad for q in p.D.parameters())


def test_a_relativistic_g_loss_reads_ds_real_logits_after_ds_update():
    """RpGAN's G loss is E[softplus(−(f − r))] with r = D(x) under the updated D on the D step's real
    batch (Huang et al. 2024): replayed by hand from the same draws, it is the loss g_update returns."""
    p = _parts(objective="rpgan")
    d = d_update(p, last=True, penalties=_penalties())
    state = torch.get_rng_state()
    z, _ = p.batches.noise()
    r, f = p.D(d.real.detach()), p.D(p.G(z))
    expect = torch.nn.functional.softplus(r - f).mean()
    torch.set_rng_state(state)
    assert g_update(p, d).item() == pytest.approx(expect.item(), rel=1e-6)
    assert not torch.equal(r, d.real_logits)  # not the logits of D before its update


def test_the_ema_averages_spectrally_normalised_weights_but_copies_their_power_iteration():
    """With spectral norm in G (BigGAN), W_ema is averaged like any weight, but u and v (the power
    iteration's state) are copied from G: their average is not a unit vector, and σ = uᵀWv of the EMA
    copy would come out too small (measured: a BigGAN G_ema at FID 51 beside its raw G's 4.2)."""
    from gankit.ema import ema_update
    from gankit.nets.layers import maybe_sn

    torch.manual_seed(0)
    G = nn.Sequential(maybe_sn(nn.Linear(4, 4), True), nn.BatchNorm1d(4))
    E = copy.deepcopy(G)
    count = torch.zeros((), dtype=torch.long)
    ema_update(E, G, 0.5, count, first=True)
    for _ in range(3):  # G trains: its weight, u, v and running statistics move
        G.train()(torch.randn(8, 4) * 3)
        with torch.no_grad():
            G[0].parametrizations.weight.original.add_(torch.randn(4, 4))
    before = copy.deepcopy(E)
    ema_update(E, G, 0.5, count, first=False)
    sn, sn_g, sn_0 = E[0].parametrizations.weight, G[0].parametrizations.weight, before[0].parametrizations.weight
    assert torch.equal(sn[0]._u, sn_g[0]._u) and torch.equal(sn[0]._v, sn_g[0]._v)
    assert torch.allclose(sn.original, (sn_0.original + sn_g.original) / 2)
    assert torch.allclose(E[1].running_mean, (before[1].running_mean + G[1].running_mean) / 2)
    assert int(count) == 2


def test_the_first_ema_update_copies_g_and_later_ones_follow_its_weight():
    """The EMA copy starts as G (first update), then W_ema ← W_ema + w·(W − W_ema) with the step's
    weight w = 1 − β filled before the step."""
    G_ema = Shift()
    G_ema.b.data.fill_(5.0)
    p = _parts(G_ema=G_ema, ema_count=torch.zeros((), dtype=torch.long), ema_weight=torch.tensor(0.25))
    train_step(p, ema_first=True)
    assert torch.equal(G_ema.b, p.G.b) and int(p.ema_count) == 1
    before, g_before = G_ema.b.detach().clone(), p.G.b.detach().clone()
    train_step(p, ema_first=False)
    assert not torch.equal(p.G.b, g_before)
    assert torch.allclose(G_ema.b, before + 0.25 * (p.G.b - before), atol=1e-7) and int(p.ema_count) == 2


@pytest.mark.parametrize("name", ["minimax", "nonsaturating", "hinge", "wgan-gp", "rpgan"])
def test_statistics_name_v_and_d_outputs_only_for_the_cross_entropy_objectives(name):
    p = _parts(objective=name)
    d = d_update(p, last=True, penalties=_penalties())
    row = step_statistics(p.objective, d, g_update(p, d))
    game = {"V", "D/real", "D/fake"}
    assert {"loss/d", "loss/g"} <= set(row)
    assert (game <= set(row)) == (name in ("minimax", "nonsaturating")) and (game & set(row) == set()) != (
        name in ("minimax", "nonsaturating")
    )
    if name == "minimax":  # V(D, G) = −loss_d for the minimax D loss, on the same batch
        assert row["V"].item() == pytest.approx(-row["loss/d"].item(), rel=1e-6)
