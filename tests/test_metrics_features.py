import numpy as np
import pytest
from scipy import linalg

from gankit.metrics import (
    density_coverage,
    frechet_distance,
    gaussian_stats,
    inception_score,
    kernel_distance,
    polynomial_mmd2,
    precision_recall,
)


def test_fd_of_diagonal_gaussians_is_the_formula():
    # Diagonal covariances commute: tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½) = Σ (√a − √b)².
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    a, b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)


def test_fd_of_general_gaussians_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    s1, s2 = a @ a.T + 0.1 * np.eye(6), b @ b.T
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    ref = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-8)


def test_fd_of_a_set_with_itself_is_zero_even_when_singular():
    f = np.random.default_rng(1).normal(size=(20, 50))  # fewer samples than dimensions: Σ singular
    mu, sigma = gaussian_stats(f)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-8)
    with pytest.raises(ValueError):
        frechet_distance(mu, sigma, mu[:3], sigma)


def test_kid_is_zero_on_average_for_one_distribution_and_positive_otherwise():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(2000, 16)), rng.normal(size=(2000, 16))
    mean, std = kernel_distance(x, y, subsets=20, subset_size=500)
    assert abs(mean) < 3 * std + 1e-3
    far, _ = kernel_distance(x, y + 1.0, subsets=20, subset_size=500)
    assert far > 0.1 and far > 20 * abs(mean)
    assert polynomial_mmd2(x[:100], x[100:200]) == pytest.approx(polynomial_mmd2(x[100:200], x[:100]))


def test_kid_is_the_mean_of_each_subsets_mmd2():
    # the kernel sums over all subsets at once give each subset's polynomial_mmd2, drawn in the same order
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(300, 8)), rng.normal(size=(2500, 8)) * 1.2 + 0.1  # rows > one 2,048 block
    draws = np.random.default_rng(0)
    vals = [
        polynomial_mmd2(real[draws.choice(300, 200, replace=False)], fake[draws.choice(2500, 200, replace=False)])
        for _ in range(7)
    ]
    mean, std = kernel_distance(real, fake, subsets=7, subset_size=200)
    assert mean == pytest.approx(np.mean(vals), rel=1e-9) and std == pytest.approx(np.std(vals), rel=1e-6)


def test_inception_score_bounds():
    k = 10
    assert inception_score(np.full((100, k), 1 / k), splits=1)[0] == pytest.approx(1.0)
    confident = np.eye(k)[np.arange(100) % k]  # confident and spread evenly
    assert inception_score(confident, splits=1)[0] == pytest.approx(k)
    collapsed = np.eye(k)[np.zeros(100, dtype=int)]  # confident but one class
    assert inception_score(collapsed, splits=1)[0] == pytest.approx(1.0)


def test_precision_recall_on_constructed_sets():
    rng = np.random.default_rng(3)
    real = rng.normal(size=(200, 2))
    assert precision_recall(real, real) == (1.0, 1.0)
    assert precision_recall(real, real + 100.0) == (0.0, 0.0)
    # Half the fakes are real points, half far away: precision ½; every real is still covered.
    fake = np.concatenate([real[:100], real[100:] + 100.0])
    p, r = precision_recall(real, fake)
    assert p == pytest.approx(0.5) and r >= 0.5


def test_density_and_coverage_on_constructed_sets():
    real = np.arange(10, dtype=float)[:, None]  # points 0..9 on a line; the 5-NN radius is ≥ 3
    d, c = density_coverage(real, real + 1000.0, k=5)
    assert d == 0.0 and c == 0.0
    one_point = np.full((4, 1), 4.5)  # all fakes at the middle: inside every real ball that reaches 4.5
    d, c = density_coverage(real, one_point, k=5)
    radii = np.sort(np.abs(real - real.T), axis=1)[:, 5]
    n_balls = int((np.abs(real[:, 0] - 4.5) <= radii).sum())
    assert d == pytest.approx(n_balls / 5) and c == pytest.approx(n_balls / 10)
    same = np.random.default_rng(4).normal(size=(500, 3))
    d, c = density_coverage(same[:250], same[250:])
    assert 0.8 < d < 1.2 and c > 0.9


def test_knn_metrics_do_not_depend_on_the_chunking(monkeypatch):
    from gankit.metrics import prdc

    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(60, 3)), rng.normal(0.5, 1.2, size=(50, 3))
    whole = prdc.precision_recall(real, fake), prdc.density_coverage(real, fake)
    monkeypatch.setattr(prdc, "CHUNK", 7)
    assert (prdc.precision_recall(real, fake), prdc.density_coverage(real, fake)) == whole
