import math
from pathlib import Path

import pytest
import torch

from gankit import ada
from gankit.ada import ada_augment, ada_update

# Every Python-level way to read a tensor back to the host (as tests/test_fast.py's SYNCS).
SYNCS = ["item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__", "nonzero"]


def _images(b: int, c: int, size: int = 8) -> torch.Tensor:
    return torch.rand(b, c, size, size) * 2 - 1


def _no_effect(p: float, rgb: bool, size: int) -> tuple[float, float]:
    """Probabilities that a sample's geometric and colour maps are the identity, from the pipeline.

    x-flip and luma flip fire with p and then flip with ½; quarter turns fire with p and then turn with ¾;
    integer translation fires with p and moves by 0 pixels in both axes with q0 = (4/size)² (|t·size| < ½ for
    t ~ U(−⅛, ⅛) per axis); rotation fires before or after anisotropic scaling, each with 1 − √(1 − p), so
    at all with p; every other transform has a continuous parameter, never the identity once it fires."""
    q0 = (4 / size) ** 2
    geometric = (1 - p / 2) * (1 - 3 * p / 4) * (1 - p * (1 - q0)) * (1 - p) ** 4  # scale, rotate, aniso, xfrac
    color = (1 - p / 2) * (1 - p) ** (4 if rgb else 2)  # luma flip; brightness, contrast (, hue, saturation)
    return geometric, color


def _assert_in_band(count: int, n: int, q: float) -> None:
    """count ~ Binomial(n, q): within 5 standard deviations of its mean."""
    sigma = math.sqrt(n * q * (1 - q))
    assert abs(count - n * q) <= 5 * sigma + 1, (count, n * q, sigma)


@pytest.mark.parametrize("c", [1, 3])
def test_p_zero_is_exactly_the_identity(c):
    x = _images(16, c)
    assert torch.equal(ada_augment(x, torch.tensor(0.0)), x)


@pytest.mark.parametrize("c", [1, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_p_one_changes_every_sample_keeps_shape_dtype_and_gradients(c, dtype):
    x = _images(32, c).to(dtype).requires_grad_(True)
    y = ada_augment(x, torch.tensor(1.0))
    assert y.shape == x.shape and y.dtype == dtype and torch.isfinite(y).all()
    # brightness (continuous) fires on every sample at p = 1, whatever else does
    assert (y != x).flatten(1).any(1).all()
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0  # G learns through it


@pytest.mark.parametrize("c", [1, 3])
@pytest.mark.parametrize("p", [0.1, 0.5])
def test_fraction_of_samples_changed_follows_from_p(c, p):
    n, size = 2000, 8
    x = _images(n, c, size)
    unchanged = int((ada_augment(x, torch.tensor(p)) == x).flatten(1).all(1).sum())
    geometric, color = _no_effect(p, c == 3, size)
    _assert_in_band(unchanged, n, geometric * color)


def test_matrices_are_the_identity_as_often_as_nothing_fires():
    n, p, size = 100_000, torch.tensor(0.3), 8
    g = ada._geometric_matrix(n, size, size, p, torch.device("cpu"))
    m = ada._color_matrix(n, p, torch.device("cpu"))
    geometric, color = _no_effect(0.3, True, size)
    _assert_in_band(int(ada._is_identity(g).sum()), n, geometric)
    _assert_in_band(int(ada._is_identity(m).sum()), n, color)
    # Only the x-flip reverses orientation (det < 0), only the luma flip the colour space's: p/2 each.
    _assert_in_band(int((torch.linalg.det(g[:, :2, :2]) < 0).sum()), n, 0.15)
    _assert_in_band(int((torch.linalg.det(m[:, :3, :3]) < 0).sum()), n, 0.15)


def test_p_reaches_the_rotation_through_pre_and_post_rotation():
    """At p = 1, each rotation fires with 1 − √(1 − 1) = 1: every geometric map is a non-identity."""
    g = ada._geometric_matrix(1000, 8, 8, torch.tensor(1.0), torch.device("cpu"))
    assert not ada._is_identity(g).any()


def test_x_flip_matrix_flips_exactly():
    x = _images(4, 3, 7)
    assert torch.equal(ada._warp(x, ada._flip_inv(torch.ones(4))), x.flip(-1))
    assert torch.equal(ada._warp(x, ada._flip_inv(torch.zeros(4))), x)


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_quarter_turn_matrix_matches_rot90(k):
    x = _images(4, 3, 6)
    assert torch.equal(ada._warp(x, ada._rot90_inv(torch.full((4,), float(k)))), torch.rot90(x, k, dims=(2, 3)))


def test_integer_translation_shifts_the_interior_exactly():
    x = _images(3, 1, 10)
    tx, ty = torch.full((3,), 2.0), torch.full((3,), -1.0)  # 2 pixels right, 1 up
    y = ada._warp(x, ada._translate_inv(tx, ty))
    assert torch.equal(y[..., 0:9, 2:10], x[..., 1:10, 0:8])  # out[r, c] = in[r + 1, c − 2]
    assert not torch.equal(y, x)


def test_brightness_adds_its_offset_to_rgb_and_grey():
    b = torch.tensor([0.3, -0.2])
    for c in (1, 3):
        x = _images(2, c)
        torch.testing.assert_close(ada._recolor(x, ada._brightness(b)), x + b.view(2, 1, 1, 1))


def test_contrast_and_luma_flip_are_about_mid_grey():
    x = _images(2, 3)
    torch.testing.assert_close(
        ada._recolor(x, ada._contrast(torch.tensor([2.0, 0.5]))), x * torch.tensor([2.0, 0.5]).view(2, 1, 1, 1)
    )
    # I − 2uuᵀ: the luma (channel mean) changes sign, the chroma (x − mean) stays
    y = ada._recolor(x, ada._luma_flip(torch.ones(2)))
    torch.testing.assert_close(y, x - 2 * x.mean(1, keepdim=True))
    grey = _images(2, 1)
    torch.testing.assert_close(ada._recolor(grey, ada._luma_flip(torch.ones(2))), -grey)


def test_hue_rotation_and_saturation_act_on_chroma_only():
    x = _images(2, 3)
    # a third of a turn about (1, 1, 1) permutes the axes cyclically: (r, g, b) ↦ (b, r, g)
    third = ada._recolor(x, ada._hue_rotation(torch.full((2,), 2 * math.pi / 3)))
    torch.testing.assert_close(third, x[:, [2, 0, 1]])
    torch.testing.assert_close(ada._recolor(x, ada._saturation(torch.zeros(2))), x.mean(1, keepdim=True).expand_as(x))
    grey = _images(2, 1).expand(2, 3, 8, 8)
    for m in (ada._hue_rotation(torch.tensor([0.7, -2.0])), ada._saturation(torch.tensor([3.0, 0.2]))):
        torch.testing.assert_close(ada._recolor(grey, m), grey)


def test_ada_update_raises_p_when_d_is_sure_of_the_reals():
    p = torch.zeros(())
    ptr = p.data_ptr()
    for step in range(1, 9):
        r = ada_update(p, torch.rand(64) + 0.1, target=0.6, batch=64, ada_kimg=0.5)
        assert r.shape == () and r == 1.0
        torch.testing.assert_close(p, torch.tensor(min(1.0, 0.128 * step)))  # 64 / (1000 · 0.5) a step
    assert p == 1.0 and p.data_ptr() == ptr  # clamped, in place
    ada_update(p, torch.rand(64) + 0.1, target=0.6, batch=64, ada_kimg=0.5)
    assert p == 1.0


def test_ada_update_lowers_p_and_clamps_at_zero():
    p = torch.tensor(0.2)
    ada_update(p, -torch.rand(64, 1) - 0.1, target=0.6, batch=64, ada_kimg=0.5)
    torch.testing.assert_close(p, torch.tensor(0.2 - 0.128))
    ada_update(p, -torch.rand(64, 1) - 0.1, target=0.6, batch=64, ada_kimg=0.5)
    assert p == 0.0


def test_ada_update_returns_the_mean_sign_and_holds_at_the_target():
    logits = torch.tensor([2.0, -1.0, 0.5, 3.0, -0.1, 0.0, 1.0, 4.0])
    p = torch.tensor(0.5)
    r = ada_update(p, logits, target=0.6, batch=8, ada_kimg=1.0)
    assert torch.equal(r, torch.sign(logits).mean()) and r == 3 / 8  # (5 − 2 + 0) / 8
    torch.testing.assert_close(p, torch.tensor(0.5 - 0.008))
    ada_update(p, torch.tensor([1.0, 1.0, 1.0, -1.0]), target=0.5, batch=4, ada_kimg=1.0)
    torch.testing.assert_close(p, torch.tensor(0.5 - 0.008))  # r_t = target: sign 0, no move


def test_nothing_is_read_back_to_the_host(monkeypatch):
    """The training step is replayed from a CUDA graph: augmenting, its backward and the update of p
    must not read any tensor on the host (every Python-level way to do so raises here)."""
    p = torch.tensor(0.7)
    xs = [_images(8, 1).requires_grad_(True), _images(8, 3).requires_grad_(True)]
    logits = torch.randn(8)

    def refuse(self, *a, **k):
        raise AssertionError("host sync")

    for name in SYNCS:
        monkeypatch.setattr(torch.Tensor, name, refuse)
    for x in xs:
        ada_augment(x, p).square().sum().backward()
    r = ada_update(p, logits, target=0.6, batch=8, ada_kimg=0.5)
    monkeypatch.undo()
    assert all(x.grad is not None and x.grad.abs().sum() > 0 for x in xs)
    assert r == torch.sign(logits).mean() and 0 <= p <= 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_both_replay_from_a_cuda_graph():
    """Captured once, replayed: p moves on the device and each replay draws new augmentations."""
    x, logits = _images(16, 3).cuda(), torch.ones(16, device="cuda")
    p = torch.zeros((), device="cuda")
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):  # warm-up outside the graph, as capture wants
        ada_augment(x, p), ada_update(p.clone(), logits, 0.6, 16, 1.0)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        y = ada_augment(x, p)
        ada_update(p, logits, 0.6, 16, 1.0)
    graph.replay()
    assert torch.equal(y, x)  # augmented at p = 0, then p rose to 0.016
    for _ in range(99):
        graph.replay()
    first = y.clone()
    graph.replay()
    torch.testing.assert_close(p.cpu(), torch.tensor(1.0))
    assert not torch.equal(y, x) and not torch.equal(y, first)


def _ada_run(images: torch.Tensor, out: Path) -> list[float]:
    """ADA's p, logged every 10 steps, over 150 steps of a small digits DCGAN whose G (learning rate
    1e-7: it stays where it starts) is at the data distribution: the real images are its own samples."""
    from gankit.data import ImageData
    from gankit.stats import read_jsonl
    from gankit.training import train

    n = len(images)
    run = out / f"n{n}"
    train(_ada_config(), run, data=ImageData(images, torch.zeros(n, dtype=torch.long), 1, "own"))
    return [r["ada/p"] for r in read_jsonl(run / "metrics.jsonl")]


def _ada_config():
    from gankit.config import load_config

    return load_config(
        "digits",
        overrides=[
            "train.progress=false",
            "train.tensorboard=false",
            "train.eval_features=",
            "train.steps=150",
            "train.log_every=10",
            "train.augment=",
            "train.ada_target=0.6",
            "train.ada_kimg=1",
            "train.batch_size=32",
            "model.g_hidden=16",
            "model.d_hidden=16",
            "train.lr_g=1e-7",
            "train.lr_d=1e-3",
            "train.sample_every=100000",
            "train.checkpoint_every=100000",
        ],
    )


def test_a_d_that_memorises_a_tiny_dataset_drives_p_up_and_ample_data_leaves_it_at_zero(tmp_path):
    """p_g = p_data by construction (4,096 samples of G itself are the data, G held still): with ample
    data D cannot tell real from fake, r_t = E[sign D(x_real)] stays near 0 < 0.6 and p never leaves 0;
    with 4 of those images D memorises them, r_t reaches the target and p climbs (0.3-0.4 in 150
    steps, at most 0.032 a step at batch 32 and ada_kimg 1)."""
    from gankit.build import build_run

    cfg = _ada_config()
    _, G, _ = build_run(cfg, torch.device("cpu"))
    torch.manual_seed(1)
    with torch.no_grad():  # train-mode batch norm, as G runs while training
        x = torch.cat([G(torch.randn(32, cfg.model.z_dim)) for _ in range(128)])
    images = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    ample, tiny = _ada_run(images, tmp_path), _ada_run(images[:4], tmp_path)
    assert max(ample) < 0.05
    assert tiny[-1] > 0.15 and tiny[-1] > tiny[0]
