import math

import pytest
import torch

from gankit.distributions import grid25, ring8
from gankit.metrics.toy import grid_edges, grid_jsd, histogram_masses, mode_stats


def test_exact_samples_are_high_quality_and_cover_every_mode():
    t = ring8()
    s = mode_stats(t.sample(20000), t.means, 0.02)
    # Within 3σ of the centre in 2-D: P(χ²₂ ≤ 9) = 1 − e^(−4.5) ≈ 0.9889.
    assert s["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.005)
    assert s["modes"] == 8
    assert s["kl_uniform"] < 0.01


def test_collapsed_and_off_target_samples():
    t = grid25()
    one_mode = t.means[3].float().expand(100, 2)
    s = mode_stats(one_mode, t.means, 0.05)
    assert s == {"high_quality": 1.0, "modes": 1, "kl_uniform": pytest.approx(math.log(25))}
    s = mode_stats(torch.full((50, 2), 1.0), t.means, 0.05)  # all halfway between modes
    assert s["high_quality"] == 0.0 and s["modes"] == 0 and math.isnan(s["kl_uniform"])


def test_histogram_masses_and_grid_jsd():
    t = ring8()
    edges = grid_edges(*t.bounds(), 32)
    p = t.cell_masses(edges)
    q = histogram_masses(t.sample(200000), edges)
    assert q.sum().item() == pytest.approx(1.0, abs=1e-3)
    assert grid_jsd(p, p) == pytest.approx(0.0, abs=1e-12)
    assert grid_jsd(p, q) < 0.002  # sampling noise only
    far = histogram_masses(torch.full((10, 2), 100.0), edges)  # everything outside the grid
    assert grid_jsd(p, far) == pytest.approx(math.log(2), abs=1e-6)
