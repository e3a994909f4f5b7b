import math

import pytest
import torch
from scipy import stats

from gankit.distributions import GaussianMixture, TARGETS, grid25, make_target, mixture1d, ring8, spiral
from gankit.errors import GankitError
from gankit.exact import simpson_grid


def test_ring8_has_eight_distinct_modes_on_the_circle():
    t = ring8()
    assert t.means.shape == (8, 2)
    assert torch.allclose(t.means.norm(dim=1), torch.full((8,), 2.0, dtype=torch.float64))
    ang = torch.atan2(t.means[:, 1], t.means[:, 0]) % (2 * math.pi)
    assert torch.allclose(ang.sort().values, 2 * math.pi * torch.arange(8, dtype=torch.float64) / 8, atol=1e-12)
    assert torch.cdist(t.means, t.means).add(torch.eye(8) * 10).min() > 1.5  # distinct
    assert torch.all(t.stds == 0.02)


def test_grid25_modes():
    t = grid25()
    assert sorted(set(t.means[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert len({tuple(m) for m in t.means.tolist()}) == 25
    assert torch.all(t.stds == 0.05)


def test_mixture1d_density_matches_scipy():
    t = mixture1d([0.3, 0.7], [-1.0, 2.0], [0.5, 1.5])
    x = torch.linspace(-5, 6, 101, dtype=torch.float64)
    ref = 0.3 * stats.norm.pdf(x, -1, 0.5) + 0.7 * stats.norm.pdf(x, 2, 1.5)
    assert torch.allclose(t.prob(x), torch.as_tensor(ref), rtol=1e-12)


@pytest.mark.parametrize("name", ["ring8", "grid25", "spiral"])
def test_2d_targets_integrate_to_one(name):
    t = make_target(name)
    lo, hi = t.bounds()
    edges = [torch.linspace(float(a), float(b), 201, dtype=torch.float64) for a, b in zip(lo, hi)]
    assert t.cell_masses(edges).sum().item() == pytest.approx(1.0, abs=1e-6)


def test_1d_density_integrates_to_one_and_cells_agree_with_quadrature():
    t = mixture1d([1, 2], [0.0, 3.0], [1.0, 0.5])
    x, w = simpson_grid(-10, 10, 20001)
    assert (t.prob(x) * w).sum().item() == pytest.approx(1.0, abs=1e-10)
    edges = torch.tensor([-10.0, 0.0, 2.0, 10.0], dtype=torch.float64)
    m = t.cell_masses([edges])
    xi, wi = simpson_grid(0.0, 2.0, 20001)
    assert m[1].item() == pytest.approx((t.prob(xi) * wi).sum().item(), abs=1e-10)


def test_samples_follow_the_density():
    t = ring8()
    x = t.sample(40000)
    # Each mode gets 1/8 of the samples (binomial s.d. ≈ 0.0017) and the radial spread is σ.
    nearest = torch.cdist(x.double(), t.means).argmin(1)
    share = torch.bincount(nearest, minlength=8).double() / len(x)
    assert torch.allclose(share, torch.full((8,), 0.125, dtype=torch.float64), atol=0.01)
    resid = x.double() - t.means[nearest]
    assert resid.std().item() == pytest.approx(0.02, rel=0.03)


def test_spiral_is_one_continuous_ribbon():
    t = spiral()
    gaps = (t.means[1:] - t.means[:-1]).norm(dim=1)
    assert gaps.max() < t.stds.min()  # no gap between neighbouring components
    assert not t.discrete_modes


def test_registry_and_bad_parameters():
    assert {"ring8", "grid25", "spiral", "mixture1d"} <= set(TARGETS.names())
    with pytest.raises(GankitError, match="unknown toy target 'ring9'.*ring8"):
        make_target("ring9")
    with pytest.raises(ValueError):
        GaussianMixture([1.0], [0.0], [-1.0])
