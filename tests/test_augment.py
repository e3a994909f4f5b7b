import torch

from gankit.augment import color, cutout, diff_augment, translation


def test_shapes_identity_and_gradients():
    x = torch.randn(6, 3, 16, 16, requires_grad=True)
    assert torch.equal(diff_augment(x, ""), x)
    y = diff_augment(x, "color,translation,cutout")
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # differentiable: G learns through it


def test_translation_moves_content_and_fills_zeros():
    x = torch.zeros(64, 1, 16, 16)
    x[:, :, 8, 8] = 1.0  # one bright pixel
    y = translation(x)
    pos = y.flatten(1).argmax(1)
    dy, dx = pos // 16 - 8, pos % 16 - 8
    assert dy.abs().max() <= 2 and dx.abs().max() <= 2  # at most 1/8 of 16 pixels
    assert (dy != 0).any() and torch.allclose(y.sum((1, 2, 3)), torch.ones(64))
    assert (translation(torch.ones(64, 1, 16, 16)) == 0).any()  # shifted-in border is zero


def test_cutout_zeros_a_half_size_square():
    y = cutout(torch.ones(32, 1, 16, 16))
    zeros = (y == 0).flatten(1).sum(1)
    assert zeros.max() == 64 and zeros.min() > 0  # an 8×8 square, clipped at the border


def test_color_changes_each_image_differently():
    x = torch.rand(8, 3, 4, 4) * 2 - 1
    y = color(x)
    assert not torch.allclose(x, y)
