"""Sampling noise and generators (gankit.evaluate): truncation, memory estimates, out-of-memory errors."""

import json
import math

import numpy as np
import pytest
import torch

from gankit.errors import GankitError
from gankit.evaluate import IMAGE_METRICS, REF_SUBSET, ImageEvaluator, eval_bytes, image_record, json_number, toy_record
from gankit.generate import (
    generate,
    generator_chunk,
    noise_bytes,
    out_of_memory_as_error,
    probe_generator,
    truncated_noise,
)
from gankit.features import FeatureNet
from gankit.nets import DCGANGenerator, MLPGenerator


def _phi(a: float) -> float:
    return math.exp(-a * a / 2) / math.sqrt(2 * math.pi)


def truncated_moments(a: float) -> tuple[float, float]:
    """E z² and E z⁴ of N(0, 1) truncated to [−a, a], Z = P(|z| ≤ a) = erf(a/√2).

    Integrating by parts (φ' = −zφ), ∫_{−a}^{a} z^k φ dz = −2a^{k−1} φ(a) + (k − 1) ∫_{−a}^{a} z^{k−2} φ dz,
    so m2 = 1 − 2aφ(a)/Z and m4 = 3·m2 − 2a³φ(a)/Z."""
    Z = math.erf(a / math.sqrt(2))
    m2 = 1 - 2 * a * _phi(a) / Z
    return m2, 3 * m2 - 2 * a**3 * _phi(a) / Z


def test_truncated_noise_stays_within_the_bound_and_is_seeded():
    z = truncated_noise(2000, 8, 0.5, torch.Generator().manual_seed(1))
    assert z.abs().max() <= 0.5 and z.std() > 0.2
    assert torch.equal(z, truncated_noise(2000, 8, 0.5, torch.Generator().manual_seed(1)))


@pytest.mark.parametrize("a", [0.5, 1.0, 2.0, 40.0])
def test_truncated_noise_has_the_truncated_normal_moments_and_cdf(a):
    n = 200_000
    z = truncated_noise(n // 4, 4, a, torch.Generator().manual_seed(3)).double().flatten()
    assert z.abs().max().item() <= a
    m2, m4 = truncated_moments(a)
    se = math.sqrt((m4 - m2 * m2) / n)  # standard error of the mean of z² (the variance: E z = 0 by symmetry)
    assert abs(z.square().mean().item() - m2) <= 5 * se
    # the std, by the delta method: se(√v) = se(v) / (2√v)
    assert abs(z.square().mean().sqrt().item() - math.sqrt(m2)) <= 5 * se / (2 * math.sqrt(m2))
    # the whole distribution: F(x) = (Φ(x) − Φ(−a)) / Z = ½(1 + erf(x/√2)/erf(a/√2)); the DKW inequality
    # bounds sup |F_n − F| by √(ln(2/α)/(2n)) with probability 1 − α (α = 1e-6)
    x = z.sort().values
    F = 0.5 * (1 + torch.special.erf(x / math.sqrt(2)) / math.erf(a / math.sqrt(2)))
    i = torch.arange(1, n + 1, dtype=torch.float64)
    gap = torch.maximum(i / n - F, F - (i - 1) / n).max().item()
    assert gap <= math.sqrt(math.log(2 / 1e-6) / (2 * n))


@pytest.mark.parametrize("a", [1e-30, 1e-6, 1e-300])
def test_tiny_truncation_returns_and_is_uniform_on_the_interval(a):
    # For a → 0 the truncated normal tends to the uniform law on [−a, a]: E(z/a)² = 1/3, E(z/a)⁴ = 1/5.
    # (Redrawing until |z| ≤ a would take about 1/P(|z| ≤ a) ≈ 1.25/a rounds: forever.)
    n = 40_000
    z = truncated_noise(n // 8, 8, a, torch.Generator().manual_seed(0)).double()
    assert z.shape == (n // 8, 8) and z.abs().max().item() <= a
    if a < 1e-40:  # below float32's range: every entry rounds to 0, still within the bound
        assert z.abs().max().item() == 0
        return
    u = (z / a).flatten()
    se = math.sqrt((1 / 5 - 1 / 9) / n)
    assert abs(u.square().mean().item() - 1 / 3) <= 5 * se
    assert abs(u.mean().item()) <= 5 * math.sqrt(1 / 3 / n)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 0.0, -1.0, "abc", True])
def test_truncation_that_is_not_positive_and_finite_is_one_line(bad):
    with pytest.raises(GankitError, match="truncation must be a positive finite number") as e:
        truncated_noise(4, 2, bad, torch.Generator().manual_seed(0))
    assert "\n" not in str(e.value)


def test_truncation_leaves_the_global_rng_alone_and_none_is_plain_normal():
    state = torch.get_rng_state()
    truncated_noise(100, 3, 0.7, torch.Generator().manual_seed(0))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(
        truncated_noise(10, 3, None, torch.Generator().manual_seed(4)),
        torch.randn(10, 3, generator=torch.Generator().manual_seed(4)),
    )


def test_generate_leaves_the_training_rng_alone():
    G = MLPGenerator(4, 2, hidden=8, layers=1)
    state = torch.get_rng_state()
    a = generate(G, 10, 4, seed=5)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, generate(G, 10, 4, seed=5)) and a.shape == (10, 2)


def test_density_is_best_near_one_and_the_others_keep_their_direction():
    assert IMAGE_METRICS["density"] == "near 1"
    assert {k: v for k, v in IMAGE_METRICS.items() if k != "density"} == {
        "fid": "lower",
        "kid": "lower",
        "is": "higher",
        "precision": "higher",
        "recall": "higher",
        "coverage": "higher",
    }


def test_probe_finds_the_sample_shape_and_the_largest_activation():
    G = DCGANGenerator(8, 1, 16, width=4)  # z → 8 channels at 4×4 → 4 channels at 8×8 → 1 channel at 16×16
    shape, peak = probe_generator(G.train(), 8, 0)
    assert shape == (1, 16, 16) and G.training  # G's mode is restored
    assert peak == max(8 * 4 * 4, 4 * 8 * 8, 1 * 16 * 16) * 4  # float32 bytes of the largest activation
    assert generator_chunk(peak, budget=3 * peak * 10) == 10 and generator_chunk(10**12) == 1


def test_memory_estimates_grow_with_what_is_kept():
    # per image sample: noise (4·z_dim), the uint8 image, float64 features ×3 and probabilities ×2
    z_dim, shape, d, k = 64, (3, 32, 32), 2048, 1008
    per = 4 * z_dim + 3 * 32 * 32 + 24 * d + 16 * k
    n = 2 * REF_SUBSET  # past REF_SUBSET the k-NN terms no longer grow
    assert eval_bytes(2 * n, z_dim, shape) - eval_bytes(n, z_dim, shape) == n * per
    # toy: noise, float32 points, their float64 copy, distances to 8 modes, a few vectors
    assert eval_bytes(2000, 2, (2,), modes=8) - eval_bytes(1000, 2, (2,), modes=8) == 1000 * (8 + 24 + 64 + 32)
    assert noise_bytes(10, 64) == 10 * 64 * 4 and noise_bytes(10, 64, 0.5) == 10 * 64 * 12
    assert eval_bytes(10**9, 64, (1, 16, 16), "classifier", 10) > 10**9 * 64 * 4


@pytest.mark.parametrize(
    "error, detail",
    [
        (
            RuntimeError(
                "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: you tried "
                "to allocate 34359738368 bytes. Error code 12 (Cannot allocate memory)"
            ),
            "(tried to allocate 34359738368 bytes)",
        ),
        (
            torch.OutOfMemoryError(
                "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79 GiB"
            ),
            "(tried to allocate 2.00 gib)",
        ),
        (
            MemoryError("Unable to allocate 74.5 GiB for an array with shape (100000, 100000) and data type float64"),
            "(unable to allocate 74.5 gib)",
        ),
        (MemoryError(), ""),
    ],
)
def test_running_out_of_memory_is_one_line(error, detail):
    with pytest.raises(GankitError) as e:
        with out_of_memory_as_error("drawing 5 samples"):
            raise error
    msg = str(e.value)
    assert msg == f"out of memory drawing 5 samples{' ' + detail if detail else ''}; choose a smaller --n"


def test_other_errors_pass_through_the_memory_guard():
    for error in (RuntimeError("mat1 and mat2 shapes cannot be multiplied"), ValueError("x")):
        with pytest.raises(type(error)):
            with out_of_memory_as_error("x"):
                raise error
    assert np.isfinite(eval_bytes(1, 1, (1,)))


NOT_FINITE = [
    float("nan"),
    float("inf"),
    -float("inf"),
    np.float64("nan"),
    np.float32("inf"),
    torch.tensor(float("nan")),
    "0.5",
    None,
]


@pytest.mark.parametrize("bad", NOT_FINITE, ids=repr)
def test_eval_records_write_what_is_not_a_finite_number_as_null(bad):
    # JSON has no NaN: json.dumps writes a bare NaN by default, which strict parsers refuse
    toy = toy_record({"toy/jsd": 0.25, "toy/high_quality": 0.0, "toy/modes": np.int64(3), "toy/kl_uniform": bad}, 50, 7)
    back = json.loads(json.dumps(toy, allow_nan=False))
    assert {k: m["value"] for k, m in back["metrics"].items()} == {
        "jsd": 0.25,
        "high_quality": 0.0,
        "modes": 3,
        "kl_uniform": None,
    }
    assert type(back["metrics"]["modes"]["value"]) is int and back["n"] == 50 and back["step"] == 7
    net = FeatureNet("classifier", "a classifier", "key", embed=lambda x: (x, x), dim=4, classes=3)
    floor = {k: 0.5 for k in IMAGE_METRICS} | {"kid": bad}
    ev = ImageEvaluator(net, ref={}, floor=floor, n_floor=20, split="two halves")
    vals = {k: 1.5 for k in IMAGE_METRICS} | {"fid": bad}
    back = json.loads(json.dumps(image_record(ev, vals, 20, 3, "digits"), allow_nan=False))["metrics"]
    assert back["fid"]["value"] is None and back["kid"]["floor"] is None
    assert all(back[k]["value"] == 1.5 for k in IMAGE_METRICS if k != "fid")
    assert all(back[k]["floor"] == 0.5 for k in IMAGE_METRICS if k != "kid")


@pytest.mark.parametrize(
    "value, expected",
    [
        (0.125, 0.125),
        (np.float32(0.5), 0.5),
        (3, 3),
        (np.int64(-4), -4),
        (10**400, 10**400),
        (1e308, 1e308),
        (float("nan"), None),
        (True, None),
        ("1", None),
        ([1.0], None),
        (torch.tensor(2.5), 2.5),
    ],
)
def test_json_number_keeps_finite_numbers_and_never_raises(value, expected):
    out = json_number(value)
    assert out == expected and type(out) is type(expected)
    json.dumps(out, allow_nan=False)
