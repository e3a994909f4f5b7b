import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gankit.nets.biggan import BigGANDiscriminator, BigGANGenerator, HierBatchNorm2d, SelfAttention, ortho_reg

# resolution → (width, z_dim): z_dim splits into blocks + 1 chunks (3 + 1, 4 + 1, 5 + 1); 128 px kept tiny
SMALL = {32: (4, 20), 64: (4, 20), 128: (2, 24)}


def nets(res, n_cls, attention=0, sn=True):
    width, z_dim = SMALL[res]
    G = BigGANGenerator(z_dim, 3, res, width, n_cls, shared_dim=8, attention=attention, sn=sn)
    D = BigGANDiscriminator(3, res, width, n_cls, attention=attention, sn=sn)
    return G, D, z_dim


def count(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("res", [32, 64, 128])
@pytest.mark.parametrize("n_cls", [0, 3])
def test_shapes_and_range(res, n_cls):
    G, D, z_dim = nets(res, n_cls)
    y = torch.tensor([0, 2, 1]) if n_cls else None
    x = G(torch.randn(3, z_dim), y)
    assert x.shape == (3, 3, res, res) and x.abs().max() <= 1
    assert D(x, y).shape == (3,)


@pytest.mark.parametrize("res", [32, 64, 128])
@pytest.mark.parametrize("n_cls", [0, 3])
def test_one_hinge_step_changes_the_parameters(res, n_cls):
    G, D, z_dim = nets(res, n_cls, attention=16)  # 16: a block output of both nets at every size
    opt_g, opt_d = torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3)
    y = torch.tensor([0, 2]) if n_cls else None
    z, real = torch.randn(2, z_dim), torch.rand(2, 3, res, res) * 2 - 1
    before = {n: p.detach().clone() for n, p in [*G.named_parameters(prefix="G"), *D.named_parameters(prefix="D")]}
    d_loss = F.relu(1 - D(real, y)).mean() + F.relu(1 + D(G(z, y).detach(), y)).mean()
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss = -D(G(z, y), y).mean()
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    assert torch.isfinite(d_loss) and torch.isfinite(g_loss)
    after = dict([*G.named_parameters(prefix="G"), *D.named_parameters(prefix="D")])
    # γ = 0 at the start cuts the gradient to the attention convs: only γ itself moves in the first step
    frozen = [n for n in after if ".attn." in n and not n.endswith("gamma")]
    assert frozen and all(torch.equal(before[n], after[n]) for n in frozen)
    # D's output bias: with every logit inside the margin, the hinge gradient on it is −1 (real) + 1 (fake) = 0
    moved = [n for n in after if n not in frozen and n != "D.fc.bias"]
    assert [n for n in moved if torch.equal(before[n], after[n])] == []


def test_hierarchical_latent_reaches_each_block_through_its_own_chunk():
    G, _, z_dim = nets(64, 3)  # 4 blocks: 5 chunks of 4
    chunk, shared_dim = z_dim // 5, 8
    seen: dict[str, torch.Tensor] = {}

    def record(name):
        return lambda module, args: seen.__setitem__(name, args[0].detach().clone())

    G.fc.register_forward_pre_hook(record("fc"))
    for i, block in enumerate(G.blocks):
        for bn in ("bn1", "bn2"):
            for part in ("gain", "bias"):  # the conditioning linears of block i's batch norms
                getattr(getattr(block, bn), part).register_forward_pre_hook(record(f"{i}.{bn}.{part}"))
    z, y = torch.randn(2, z_dim), torch.tensor([1, 2])
    G(z, y)
    base = dict(seen)
    assert base["fc"].shape == (2, chunk)
    assert all(v.shape == (2, shared_dim + chunk) for k, v in base.items() if k != "fc")
    for k in range(5):
        z2 = z.clone()
        z2[:, k * chunk : (k + 1) * chunk] += 1.0
        G(z2, y)
        changed = {name for name in base if not torch.equal(base[name], seen[name])}
        # chunk 0 feeds the first linear only; chunk k ≥ 1 reaches the four linears of block k − 1 only
        want = {"fc"} if k == 0 else {f"{k - 1}.{bn}.{part}" for bn in ("bn1", "bn2") for part in ("gain", "bias")}
        assert changed == want, k


def test_unconditional_g_has_plain_batch_norm_and_takes_all_of_z():
    G, _, z_dim = nets(32, 0)
    assert G.shared is None and not any(isinstance(m, (nn.Embedding, HierBatchNorm2d)) for m in G.modules())
    bns = [m for m in G.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 2 * 3 + 1 and all(bn.affine for bn in bns)
    assert G.fc.in_features == z_dim
    # a z_dim that does not split is fine when nothing is split
    assert BigGANGenerator(21, 3, 32, 4).fc.in_features == 21


def test_conditional_g_shares_one_class_embedding():
    G, _, z_dim = nets(128, 3)
    embeddings = [m for m in G.modules() if isinstance(m, nn.Embedding)]
    assert embeddings == [G.shared] and G.shared.weight.shape == (3, 8)
    hier = [m for m in G.modules() if isinstance(m, HierBatchNorm2d)]
    assert len(hier) == 2 * 5 and all(m.gain.in_features == 8 + z_dim // 6 and not m.bn.affine for m in hier)
    z = torch.randn(2, z_dim)
    assert not torch.allclose(G(z, torch.tensor([0, 0])), G(z, torch.tensor([1, 1])))
    with pytest.raises(ValueError, match="class-conditional"):
        G(z)


@pytest.mark.parametrize("res,attention", [(32, 16), (64, 32), (128, 64)])
def test_attention_sits_at_its_resolution(res, attention):
    G, D, z_dim = nets(res, 3, attention=attention)
    io = []
    for net in (G, D):
        assert sum(isinstance(m, SelfAttention) for m in net.modules()) == 1
        net.attn.register_forward_hook(lambda m, args, out: io.append((args[0], out)))
    y = torch.tensor([0, 1])
    D(G(torch.randn(2, z_dim), y), y)
    for x, out in io:
        assert x.shape[2:] == (attention, attention)
        assert torch.equal(x, out)  # γ = 0: the identity
    with torch.no_grad():
        G.attn.gamma.fill_(0.5)
        D.attn.gamma.fill_(0.5)
    io.clear()
    D(G(torch.randn(2, z_dim), y), y)
    assert all(not torch.allclose(x, out) for x, out in io)


def test_no_attention_when_zero_and_bad_arguments_are_named():
    G, D, _ = nets(64, 3, attention=0)
    assert not any(isinstance(m, SelfAttention) for net in (G, D) for m in net.modules())
    with pytest.raises(ValueError, match="attention=4"):
        BigGANGenerator(20, 3, 32, 4, attention=4)  # G's blocks end at 8, 16, 32
    with pytest.raises(ValueError, match="attention=32"):
        BigGANDiscriminator(3, 32, 4, attention=32)  # D's blocks end at 16, 8, 8, 8
    with pytest.raises(ValueError, match="z_dim=21"):
        BigGANGenerator(21, 3, 32, 4, num_classes=3)  # 4 chunks at 32 px
    with pytest.raises(ValueError, match="resolution=48"):
        BigGANGenerator(20, 3, 48, 4)


def test_weights_start_orthogonal_and_spectral_norm_starts_from_them():
    G, D, _ = nets(32, 3, attention=16)
    G.eval(), D.eval()  # eval: spectral norm uses its stored singular vectors, no new power iteration
    layers = [m for net in (G, D) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))]
    assert len(layers) > 20
    for m in layers:
        raw = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
        w = raw.detach().flatten(1)
        gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w  # orthonormal rows, or columns
        torch.testing.assert_close(gram, torch.eye(gram.shape[0]), atol=1e-5, rtol=0)
        # every singular value of an orthonormal W is 1: a fresh power iteration gives σ = 1 and W / σ = W
        torch.testing.assert_close(m.weight.detach(), raw.detach(), atol=1e-5, rtol=0)


def test_parameter_counts_match_biggan_128():
    # Counts are quadratic in the width when the attention channels (C/8, C/2) divide exactly: extrapolate from
    # widths 8, 16, 24 to BigGAN's ch = 96 (dim_z 120, shared 128, 1000 classes, attention at 64): the
    # 70,433,988 and 87,982,370 parameters of BigGAN-PyTorch's G and D (the paper's 70.4M and 88.0M, table 1).
    def at(width):
        G = BigGANGenerator(120, 3, 128, width, 1000, shared_dim=128, attention=64, sn=False)
        return count(G), count(BigGANDiscriminator(3, 128, width, 1000, attention=64, sn=False))

    (g0, d0), (g1, d1), (g2, d2) = at(8), at(16), at(24)
    t = (96 - 8) // 8  # Newton's forward differences, step 8
    assert g0 + t * (g1 - g0) + t * (t - 1) // 2 * (g2 - 2 * g1 + g0) == 70_433_988
    assert d0 + t * (d1 - d0) + t * (t - 1) // 2 * (d2 - 2 * d1 + d0) == 87_982_370


W = [[1.0, 2.0, 0.0], [0.0, 1.0, 1.0]]  # W Wᵀ = [[5, 2], [2, 2]]: off-diagonal 2, twice → 2·2² = 8


def linear(weight, bias=False):
    m = nn.Linear(3, 2, bias=bias)
    with torch.no_grad():
        m.weight.copy_(torch.tensor(weight))
        if bias:
            m.bias.fill_(5.0)
    return m


def test_ortho_reg_is_the_off_diagonal_frobenius_norm():
    assert ortho_reg(linear(W)).item() == pytest.approx(8.0)
    assert ortho_reg(linear(W, bias=True)).item() == pytest.approx(8.0)  # the bias is not a matrix
    # orthogonal rows of unequal norms (2 and 1): no penalty, the diagonal is free
    assert ortho_reg(linear([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])).item() == 0.0
    # a conv weight [2, 1, 1, 3] is read as the [2, 3] matrix of its filters
    conv = nn.Conv2d(1, 2, (1, 3), bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(W).view(2, 1, 1, 3))
    assert ortho_reg(conv).item() == pytest.approx(8.0)


def test_ortho_reg_sums_layers_skips_excluded_names_and_sees_raw_weights():
    net = nn.ModuleDict({"shared": linear(W), "fc": linear([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])})  # 2·1² = 2
    assert ortho_reg(net).item() == pytest.approx(10.0)
    assert ortho_reg(net, exclude=("shared",)).item() == pytest.approx(2.0)
    sn = nn.utils.parametrizations.spectral_norm(linear(W))
    assert ortho_reg(sn).item() == pytest.approx(8.0)  # W itself, not W / σ(W)


def test_ortho_reg_gradient_is_four_offdiag_gram_times_w():
    m = linear(W)
    ortho_reg(m).backward()
    # 4 (W Wᵀ ⊙ (1 − I)) W = 4 [[0, 2], [2, 0]] W
    torch.testing.assert_close(m.weight.grad, torch.tensor([[0.0, 8.0, 8.0], [8.0, 16.0, 0.0]]))


def test_ortho_reg_of_a_generator_excludes_its_shared_embedding():
    G, _, _ = nets(32, 3)
    with torch.no_grad():
        G.shared.weight.normal_()  # its orthogonal init would make its term 0
    full, without = ortho_reg(G), ortho_reg(G, exclude=("shared",))
    assert without.requires_grad and without.item() > 0
    torch.testing.assert_close(full - without, ortho_reg(G.shared))
