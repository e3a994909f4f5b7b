import math

import pytest
import torch

from gankit.errors import GankitError
from gankit.objectives import OBJECTIVES, gan_value, get_objective, gradient_penalty, r1_penalty, r2_penalty

LOG2 = math.log(2.0)
ZERO = torch.zeros(16)

# (objective, D loss at r = f = 0, G loss at f = 0), from each loss's equation.
AT_ZERO = {
    "minimax": (2 * LOG2, -LOG2),  # −log σ(0) − log(1 − σ(0)) = 2 log 2; log(1 − ½) = −log 2
    "nonsaturating": (2 * LOG2, LOG2),  # −log σ(0) = log 2
    "wasserstein": (0.0, 0.0),
    "wgan-gp": (0.0, 0.0),
    "hinge": (2.0, 0.0),  # max(0, 1 − 0) + max(0, 1 + 0)
    "lsgan": (0.5, 0.5),  # ½(0 − 1)² + ½·0²; ½(0 − 1)²
    "rpgan": (LOG2, LOG2),  # softplus(−(0 − 0)) = log 2 on both sides
}


def test_every_objective_is_covered():
    assert set(OBJECTIVES.names()) == set(AT_ZERO)


@pytest.mark.parametrize("name", sorted(AT_ZERO))
def test_losses_at_logit_zero(name):
    obj = get_objective(name)
    d0, g0 = AT_ZERO[name]
    assert obj.d_loss(ZERO, ZERO).item() == pytest.approx(d0, abs=1e-7)
    assert obj.g_loss(ZERO, ZERO).item() == pytest.approx(g0, abs=1e-7)


@pytest.mark.parametrize("name", sorted(AT_ZERO))
def test_losses_finite_at_extreme_logits(name):
    obj = get_objective(name)
    big = torch.tensor([-1e4, -50.0, 50.0, 1e4])
    assert torch.isfinite(obj.d_loss(big, big.flip(0)))
    assert torch.isfinite(obj.g_loss(big.flip(0), big))


def test_minimax_d_loss_is_minus_value_and_vanishes_at_a_perfect_discriminator():
    r, f = torch.randn(100), torch.randn(100)
    assert get_objective("minimax").d_loss(r, f).item() == pytest.approx(-gan_value(r, f).item(), rel=1e-6)
    # D(x) → 1 on real, D(G(z)) → 0 on fake: V → 0 from below, without overflow.
    assert get_objective("minimax").d_loss(torch.full((4,), 200.0), torch.full((4,), -200.0)).item() == 0.0


def test_saturating_and_nonsaturating_gradients_differ_by_d_over_one_minus_d():
    # d/df log(1 − σ(f)) = −σ(f); d/df −log σ(f) = −(1 − σ(f)): ratio σ/(1 − σ) = e^f.
    for f0 in (-8.0, -2.0, 0.0, 3.0):
        f = torch.tensor([f0], dtype=torch.float64, requires_grad=True)
        (g_mm,) = torch.autograd.grad(get_objective("minimax").g_loss(None, f), f)
        (g_ns,) = torch.autograd.grad(get_objective("nonsaturating").g_loss(None, f), f)
        assert (g_mm / g_ns).item() == pytest.approx(math.exp(f0), rel=1e-12)
        assert g_mm.item() == pytest.approx(-torch.sigmoid(f).item(), rel=1e-12)


def test_only_relativistic_g_losses_read_the_real_logits():
    """The G losses of the non-relativistic objectives are functions of f alone (the loop passes them
    the D step's last real logits, which must change nothing); RpGAN's depends on f − r (Huang et al.
    2024, eq. 2): shifting both logits by the same amount leaves it unchanged."""
    r, f = torch.randn(64, generator=torch.Generator().manual_seed(0)), torch.randn(64)
    for name in OBJECTIVES:
        obj = OBJECTIVES[name]
        if obj.g_uses_real:
            assert obj.g_loss(r + 3.0, f + 3.0).item() == pytest.approx(obj.g_loss(r, f).item(), rel=1e-6)
            assert obj.g_loss(r + 1.0, f).item() > obj.g_loss(r, f).item()  # a stronger real side: more loss
        else:
            assert torch.equal(obj.g_loss(r, f), obj.g_loss(None, f)), name
    rp = get_objective("rpgan")
    # D and G losses mirror each other: each is the other's with the roles of r and f swapped
    assert torch.equal(rp.d_loss(r, f), rp.g_loss(f, r))
    with pytest.raises(ValueError, match="real_logits"):
        rp.g_loss(None, f)


def test_defaults_of_wgan_variants():
    assert get_objective("wgan-gp").gp_weight == 10.0
    assert get_objective("wasserstein").clip == 0.01
    assert get_objective("hinge").gp_weight == 0.0 and get_objective("hinge").clip is None


def test_gradient_penalty_of_linear_critic():
    # D(x) = w·x has ∇D = w everywhere, so the penalty is (‖w‖ − 1)² whatever the interpolates.
    w = torch.tensor([3.0, 4.0])
    gp = gradient_penalty(lambda x: x @ w, torch.randn(32, 2), torch.randn(32, 2))
    assert gp.item() == pytest.approx((5.0 - 1.0) ** 2, rel=1e-6)


def test_gradient_penalty_trains_the_critic():
    lin = torch.nn.Linear(2, 1)
    gp = gradient_penalty(lambda x: lin(x).squeeze(-1), torch.randn(8, 2), torch.randn(8, 2))
    gp.backward()
    assert lin.weight.grad is not None and lin.weight.grad.abs().sum() > 0


def test_r1_penalty_of_quadratic_critic():
    # D(x) = ½‖x‖² has ∇D = x, so E‖∇D‖² = E‖x‖².
    x = torch.randn(64, 3).requires_grad_(True)
    logits = 0.5 * x.square().sum(1)
    assert r1_penalty(logits, x).item() == pytest.approx(x.detach().square().sum(1).mean().item(), rel=1e-6)


def test_r2_penalises_d_on_fake_data_and_its_gradient_is_gamma_w():
    """R2 is R1 on G's samples: for a linear D(x) = w·x + c, ∇ₓD = w at every x̃, so R2 = ‖w‖², and the
    loop's γ/2·R2 has gradient γ·w with respect to w (none with respect to c); G's graph is not
    reached (x̃ is a leaf cut from it)."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 1)
    G = torch.nn.Linear(2, 3)
    fake = G(torch.randn(16, 2)).detach().requires_grad_(True)
    r2 = r2_penalty(lin(fake).squeeze(-1), fake)
    w = lin.weight.detach()
    assert r2.item() == pytest.approx(w.square().sum().item(), rel=1e-6)
    (0.5 * 10.0 * r2).backward()
    assert torch.allclose(lin.weight.grad, 10.0 * w, atol=1e-6)
    assert lin.bias.grad is None or float(lin.bias.grad.abs().sum()) == 0.0
    assert G.weight.grad is None


def test_unknown_objective_lists_valid_names():
    with pytest.raises(GankitError, match="unknown objective 'nonsaturate'.*did you mean 'nonsaturating'.*hinge"):
        get_objective("nonsaturate")
