import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from gankit.nets.r3gan import (
    LRELU_GAIN,
    R3GANDiscriminator,
    R3GANGenerator,
    ResidualBlock,
    _downsample,
    _upsample,
)

Z_DIM = 8
RESOLUTIONS = [28, 32, 64]
# resolution → (side of each stage, channels of each stage at width 4), from the basis up (G's order)
PLAN = {
    28: ([7, 14, 28], [4, 4, 4]),
    32: ([4, 8, 16, 32], [4, 4, 4, 4]),
    64: ([4, 8, 16, 32, 64], [8, 8, 8, 8, 4]),
}


def nets(res, n_cls, width=4, group_size=4, channels=3, **kw):
    """Tiny nets: width 4, expansion 2 → 8 expanded channels, 2 groups of 4 (16 at 64 px: 4 groups)."""
    G = R3GANGenerator(Z_DIM, channels, res, width, n_cls, group_size=group_size, **kw)
    D = R3GANDiscriminator(channels, res, width, n_cls, group_size=group_size, **kw)
    return G, D


def blocks(net):
    return [m for m in net.modules() if isinstance(m, ResidualBlock)]


def labels(n_cls, b):
    return torch.arange(b) % n_cls if n_cls else None


@pytest.mark.parametrize("res", RESOLUTIONS)
@pytest.mark.parametrize("n_cls", [0, 3])
def test_shapes(res, n_cls):
    channels = 1 if res == 28 else 3
    G, D = nets(res, n_cls, channels=channels)
    y = labels(n_cls, 3)
    x = G(torch.randn(3, Z_DIM), y)
    assert x.shape == (3, channels, res, res)
    assert D(x, y).shape == (3,)


@pytest.mark.parametrize("res", RESOLUTIONS)
def test_stage_plan(res):
    G, D = nets(res, 3)
    seen = {G: [], D: []}
    for net in (G, D):
        for block in blocks(net):
            block.register_forward_hook(lambda m, args, out, net=net: seen[net].append(tuple(out.shape[1:3])))
    y = labels(3, 2)
    D(G(torch.randn(2, Z_DIM), y), y)
    sizes, channels = PLAN[res]
    want = [(c, s) for c, s in zip(channels, sizes) for _ in range(2)]  # 2 blocks per stage
    assert seen[G] == want
    assert seen[D] == want[::-1]  # D: G's stages in reverse
    assert len(blocks(G)) == len(blocks(D)) == 2 * len(sizes)


@pytest.mark.parametrize("res", RESOLUTIONS)
@pytest.mark.parametrize("n_cls", [0, 3])
def test_one_relativistic_step_changes_the_parameters(res, n_cls):
    G, D = nets(res, n_cls)
    opt_g, opt_d = torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3)
    y, z, real = labels(n_cls, 2), torch.randn(2, Z_DIM), torch.rand(2, 3, res, res) * 2 - 1

    def params():
        return dict([*G.named_parameters(prefix="G"), *D.named_parameters(prefix="D")])

    before = {n: p.detach().clone() for n, p in params().items()}

    def step():
        d_loss = F.softplus(D(G(z, y).detach(), y) - D(real, y)).mean()  # relativistic pairing loss
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = F.softplus(D(real, y) - D(G(z, y), y)).mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        assert torch.isfinite(d_loss) and torch.isfinite(g_loss)

    step()
    after = params()
    # the last conv of every residual branch is 0: no gradient reaches the branch's first two convs yet
    frozen = [n for n in after if ".conv1." in n or ".conv2." in n]
    assert len(frozen) == 4 * (len(blocks(G)) + len(blocks(D)))  # weights and biases of two convs per block
    assert all(torch.equal(before[n], after[n]) for n in frozen)
    assert [n for n in after if n not in frozen and torch.equal(before[n], after[n])] == []
    step()  # now the last convs are not 0: every branch learns
    assert [n for n in frozen if torch.equal(before[n], after[n])] == []


@pytest.mark.parametrize("res", RESOLUTIONS)
def test_every_residual_branch_starts_as_the_identity(res):
    G, D = nets(res, 3)
    io = []
    for block in blocks(G) + blocks(D):
        block.register_forward_hook(lambda m, args, out: io.append((args[0], out)))
    y = labels(3, 2)
    D(G(torch.randn(2, Z_DIM), y), y)
    assert len(io) == 4 * len(PLAN[res][0])
    assert all(torch.equal(x, out) for x, out in io)
    with torch.no_grad():  # a non-zero last conv: no longer the identity (the check above can fail)
        for block in blocks(G):
            block.conv3.weight.normal_()
    io.clear()
    G(torch.randn(2, Z_DIM), y)
    assert all(not torch.allclose(x, out) for x, out in io)


def test_no_normalisation_layers_anywhere():
    norms = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm)  # _NormBase: BN, IN
    for res in RESOLUTIONS:
        for net in nets(res, 3):
            modules = list(net.modules())
            assert not [m for m in modules if isinstance(m, norms)]
            assert not [m for m in modules if parametrize.is_parametrized(m)]  # no spectral norm either


@pytest.mark.parametrize("width,group_size,groups", [(4, 4, 2), (8, 4, 4), (8, 16, 1), (16, 16, 2), (4, 16, 1)])
def test_grouped_convs_have_the_configured_group_size(width, group_size, groups):
    for net in nets(32, 0, width=width, group_size=group_size):
        for block in blocks(net):
            conv = block.conv2
            assert conv.kernel_size == (3, 3) and conv.in_channels == conv.out_channels == 2 * width
            assert conv.groups == groups and conv.weight.shape[1] == 2 * width // groups
    # at 64 px the stages differ in width (8 and 4 at width 4): 16 and 8 expanded channels, groups of 4 in each
    for net in nets(64, 0):
        assert [b.conv2.groups for b in blocks(net)] in ([4] * 8 + [2] * 2, [2] * 2 + [4] * 8)


def test_a_width_that_group_size_does_not_divide_is_refused():
    with pytest.raises(ValueError, match="group_size=16"):
        R3GANGenerator(Z_DIM, 3, 32, 12)  # 24 expanded channels
    with pytest.raises(ValueError, match="group_size=16"):
        R3GANDiscriminator(3, 32, 12)


def test_conditional_nets_depend_on_the_class():
    G, D = nets(32, 3)
    z = torch.randn(2, Z_DIM)
    a, b = torch.tensor([0, 0]), torch.tensor([1, 2])
    x = G(z, a)
    assert not torch.allclose(x, G(z, b), atol=1e-6)
    logits = D(x, a)
    assert not torch.allclose(logits, D(x, b), atol=1e-6)
    for net, inp in ((G, z), (D, x)):
        with pytest.raises(ValueError, match="class-conditional"):
            net(inp)
    # the class embedding of G is embed_dim wide (default z_dim) next to z; D's φ defaults to the last width
    assert G.embed.weight.shape == (3, Z_DIM) and G.basis.fc.in_features == 2 * Z_DIM
    assert D.embed.weight.shape == (3, 4) and D.basis.fc.out_features == 4
    G2, D2 = nets(32, 3, embed_dim=6)
    assert G2.basis.fc.in_features == Z_DIM + 6 and D2.basis.fc.out_features == 6
    assert D2(G2(z, a), a).shape == (2,)


def test_unconditional_nets_ignore_labels():
    G, D = nets(32, 0)
    z = torch.randn(2, Z_DIM)
    x = G(z)
    assert G.embed is None and D.embed is None and D.basis.fc.out_features == 1
    assert torch.equal(G(z, torch.tensor([0, 1])), x)
    assert torch.equal(D(x, torch.tensor([0, 1])), D(x))


def test_generator_output_is_linear():
    G, _ = nets(32, 0)
    with torch.no_grad():
        G.out.weight.mul_(1e3)  # a tanh would keep it in [−1, 1]
    assert G(torch.randn(2, Z_DIM)).abs().max() > 1


def test_unsupported_resolution_and_block_count_are_named():
    with pytest.raises(ValueError, match="resolution=48"):
        R3GANGenerator(Z_DIM, 3, 48, 4)
    with pytest.raises(ValueError, match="resolution=128"):
        R3GANDiscriminator(3, 128, 4)
    with pytest.raises(ValueError, match="blocks_per_stage"):
        R3GANGenerator(Z_DIM, 3, 32, 4, blocks_per_stage=0)


def normalised_std(layers):
    """Std of the weights of ``layers``, each multiplied by √fan_in: the gain of an N(0, gain²/fan_in) init."""
    return torch.cat([m.weight.detach().flatten() * math.sqrt(m.weight[0].numel()) for m in layers]).std().item()


def test_fixup_init_scales_the_branches_by_the_block_count():
    # 32 px, 2 blocks per stage: L = 8 blocks; m = 3 layers per branch → gain · 8^(−1/4)
    for net in (R3GANGenerator(Z_DIM, 3, 32, 32), R3GANDiscriminator(3, 32, 32, 10)):
        bs = blocks(net)
        assert len(bs) == 8
        want = LRELU_GAIN * 8 ** (-1 / 4)
        assert normalised_std([b.conv1 for b in bs]) == pytest.approx(want, rel=0.03)
        assert normalised_std([b.conv2 for b in bs]) == pytest.approx(want, rel=0.03)
        assert all(not b.conv3.weight.any() and not b.conv1.bias.any() and not b.conv2.bias.any() for b in bs)
    # 64 px with 1 block per stage: L = 5, a different scale
    bs = blocks(R3GANGenerator(Z_DIM, 3, 64, 32, blocks_per_stage=1))
    assert normalised_std([b.conv1 for b in bs]) == pytest.approx(LRELU_GAIN * 5 ** (-1 / 4), rel=0.03)


def test_init_of_the_other_layers():
    G = R3GANGenerator(64, 3, 32, 64, num_classes=100)
    D = R3GANDiscriminator(3, 32, 64, num_classes=100)
    assert G.basis.basis.std().item() == pytest.approx(1.0, rel=0.05)  # the constant basis: N(0, 1)
    assert normalised_std([G.basis.fc, D.basis.fc, D.basis.conv, D.inp]) == pytest.approx(1.0, rel=0.05)
    # class embeddings: a linear layer on one-hot classes, fan_in = 100; D's with gain 1/√embed_dim (64)
    assert G.embed.weight.std().item() == pytest.approx(1 / 10, rel=0.05)
    assert D.embed.weight.std().item() == pytest.approx(1 / 10 / 8, rel=0.05)


def lowpass(x, up):
    """The reference's resampling: upfirdn with the [1, 3, 3, 1] filter ([1, 2, 1] ∗ [1, 1]), zero padding."""
    k = torch.tensor([1.0, 3.0, 3.0, 1.0])
    k = (k[:, None] * k[None, :] / k.sum() ** 2)[None, None]  # [1, 1, 4, 4], sums to 1
    b, c, h, w = x.shape
    flat = x.reshape(b * c, 1, h, w)
    y = F.conv_transpose2d(flat, 4 * k, stride=2, padding=1) if up else F.conv2d(flat, k, stride=2, padding=1)
    return y.view(b, c, *y.shape[2:])


def test_resampling_is_the_reference_filter_inside_the_image():
    x = torch.randn(2, 3, 8, 8)
    for ours, ref in ((_upsample(x), lowpass(x, True)), (_downsample(x), lowpass(x, False))):
        assert ours.shape == ref.shape
        torch.testing.assert_close(ours[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1])
        assert not torch.allclose(ours, ref)  # the borders: edge clamping here, zero padding there
    # a plain (not antialiased) bilinear ×½ is a 2×2 average: another filter inside the image too
    plain = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)
    assert not torch.allclose(plain[..., 1:-1, 1:-1], lowpass(x, False)[..., 1:-1, 1:-1])
