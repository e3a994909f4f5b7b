import math

import pytest
import torch

from gankit.distributions import GaussianMixture, mixture1d
from gankit.exact import (
    LOG4,
    jsd,
    kl,
    optimal_discriminator,
    optimal_logit,
    pushforward_masses_1d,
    simpson_grid,
    value,
    virtual_training_criterion,
)

X, W = simpson_grid(-25.0, 25.0, 200001)


def gauss(mu, sd):
    return GaussianMixture([1.0], [mu], [sd])


def dens(t):
    return t.prob(X)


def test_optimal_discriminator_of_two_gaussians():
    # log N(x; 0, 1) − log N(x; 1, 1) = −x + ½, so D*(x) = σ(½ − x) and D*(½) = ½.
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    f = optimal_logit(gauss(0, 1).log_prob(x), gauss(1, 1).log_prob(x))
    assert torch.allclose(f, 0.5 - x, atol=1e-12)
    d = optimal_discriminator(gauss(0, 1).log_prob(x), gauss(1, 1).log_prob(x))
    assert torch.allclose(d, gauss(0, 1).prob(x) / (gauss(0, 1).prob(x) + gauss(1, 1).prob(x)), rtol=1e-12)


@pytest.mark.parametrize(
    "pd,pg",
    [
        (gauss(0, 1), gauss(1, 1)),
        (gauss(0, 1), gauss(0, 3)),
        (mixture1d([1, 1], [-2, 2], [0.5, 0.5]), gauss(0, 2)),
        (gauss(-8, 0.3), gauss(8, 0.3)),
    ],
)
def test_theorem1_value_at_optimal_d_is_minus_log4_plus_2jsd(pd, pg):
    p, q = dens(pd), dens(pg)
    c = virtual_training_criterion(p, q, W).item()
    assert c == pytest.approx(-LOG4 + 2 * jsd(p, q, W).item(), abs=1e-8)
    # Any other discriminator does worse: V(D, G) ≤ C(G).
    for logit in (torch.zeros_like(X), 0.3 * X, optimal_logit(pd.log_prob(X), pg.log_prob(X)) + 0.5):
        assert value(p, q, logit, W).item() <= c + 1e-10


def test_global_minimum_when_pg_equals_pdata():
    p = dens(mixture1d([1, 2], [0, 3], [1, 0.5]))
    assert virtual_training_criterion(p, p, W).item() == pytest.approx(-LOG4, abs=1e-9)
    assert jsd(p, p, W).item() == pytest.approx(0.0, abs=1e-12)
    # ... where D* = ½ everywhere.
    assert torch.allclose(optimal_discriminator(p.log(), p.log()), torch.full_like(p, 0.5))


def test_jsd_bounds_and_disjoint_supports():
    p, q = dens(gauss(-10, 0.2)), dens(gauss(10, 0.2))
    assert jsd(p, q, W).item() == pytest.approx(math.log(2), abs=1e-9)
    for a, b in [(gauss(0, 1), gauss(0.5, 1)), (gauss(0, 1), gauss(3, 0.2))]:
        j = jsd(dens(a), dens(b), W).item()
        assert 0 < j < math.log(2)
        assert j == pytest.approx(jsd(dens(b), dens(a), W).item(), abs=1e-12)  # symmetric


def test_kl_of_gaussians_closed_form():
    m1, s1, m2, s2 = 0.3, 0.8, -1.0, 1.7
    closed = math.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5
    assert kl(dens(gauss(m1, s1)), dens(gauss(m2, s2)), W).item() == pytest.approx(closed, abs=1e-9)


def test_kl_of_masses():
    p = torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64)
    q = torch.tensor([0.25, 0.25, 0.5], dtype=torch.float64)
    assert kl(p, q).item() == pytest.approx(math.log(2), abs=1e-12)


def test_pushforward_of_affine_generator_is_the_gaussian_within_its_bound():
    # G(z) = 0.7 z + 1.5 with z ~ N(0, 1) gives p_g = N(1.5, 0.7²); the bound is 2/n_z per bin.
    G = torch.nn.Linear(1, 1)
    with torch.no_grad():
        G.weight.fill_(0.7)
        G.bias.fill_(1.5)
    edges = torch.linspace(-3, 6, 301, dtype=torch.float64)
    n_z = 2**16
    q = pushforward_masses_1d(G, edges, n_z=n_z)
    exact = gauss(1.5, 0.7).cell_masses([edges])
    assert (q - exact).abs().max().item() <= 2.0 / n_z + 1e-7  # + float32 rounding of G's output
    assert q.sum().item() == pytest.approx(1.0, abs=1e-6)


def test_pushforward_of_a_folding_generator():
    # G(z) = |z| folds N(0, 1) into the half-normal: density 2φ(x) on x ≥ 0.
    class Abs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.dummy = torch.nn.Parameter(torch.zeros(1))

        def forward(self, z):
            return z.abs()

    edges = torch.linspace(0, 4, 81, dtype=torch.float64)
    q = pushforward_masses_1d(Abs(), edges, n_z=2**16)
    exact = 2 * gauss(0, 1).cell_masses([edges])
    assert (q - exact).abs().max().item() <= 4.0 / 2**16


def test_w1_of_two_gaussians_closed_forms():
    from gankit.exact import gaussian_quantile, wasserstein1_1d

    # Same σ: the quantile functions differ by the shift, so W1 = |μ₁ − μ₂|.
    assert wasserstein1_1d(gaussian_quantile(0.3, 1.2), gaussian_quantile(-1.7, 1.2)) == pytest.approx(2.0, abs=1e-12)
    # Same μ: they differ by (σ₁ − σ₂)Φ⁻¹(u), so W1 = |σ₁ − σ₂|·E|Z| = |σ₁ − σ₂|·√(2/π).
    w = wasserstein1_1d(gaussian_quantile(1.0, 0.5), gaussian_quantile(1.0, 2.0), n=2**20)
    assert w == pytest.approx(1.5 * math.sqrt(2 / math.pi), rel=1e-4)


def test_minimax_gradient_vanishes_for_disjoint_supports_while_w1_does_not():
    # Arjovsky et al. (2017), example 1: for θ ≫ ε, JSD(N(0, ε²) ‖ N(θ, ε²)) = log 2 for every θ.
    eps = 0.01
    for th in (0.2, 1.0, 3.0):
        x, w = simpson_grid(-0.3, th + 0.3, 200001)
        assert jsd(gauss(0, eps).prob(x), gauss(th, eps).prob(x), w).item() == pytest.approx(math.log(2), abs=1e-9)


def test_density_descent_reaches_the_global_minimum_monotonically():
    from gankit.exact import density_descent

    edges = torch.linspace(-3, 3, 41, dtype=torch.float64)
    p_data = gauss(0.5, 0.7).cell_masses([edges])
    p_data = p_data / p_data.sum()
    p_g0 = torch.full((40,), 1 / 40, dtype=torch.float64)  # uniform start
    h = density_descent(p_data, p_g0, steps=60, lr=0.5)
    assert h["C"][0].item() > -LOG4 + 0.1
    assert (h["C"][1:] - h["C"][:-1]).max().item() <= 1e-12  # never rises
    assert h["C"][-1].item() == pytest.approx(-LOG4, abs=1e-8)
    assert h["jsd"][-1].item() < 1e-8
    assert torch.allclose(h["p_g"].sum(1), torch.ones(61, dtype=torch.float64))  # p_g stays a distribution
