import pytest
import torch

from gankit.nets import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    SNGANDiscriminator,
    SNGANGenerator,
)
from gankit.nets.dcgan import RESOLUTIONS


def count(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("res", RESOLUTIONS)
@pytest.mark.parametrize("n_cls,sn", [(0, False), (10, False), (10, True)])
def test_dcgan_shapes(res, n_cls, sn):
    G = DCGANGenerator(16, 3, res, width=8, num_classes=n_cls)
    D = DCGANDiscriminator(3, res, width=8, num_classes=n_cls, spectral_norm=sn)
    y = torch.randint(0, 10, (5,)) if n_cls else None
    x = G(torch.randn(5, 16), y)
    assert x.shape == (5, 3, res, res) and x.abs().max() <= 1
    assert D(x, y).shape == (5,)


def test_dcgan64_is_the_pytorch_examples_architecture():
    # pytorch/examples dcgan with nz=100, ngf=ndf=64, nc=3: 3,576,704 and 2,765,568 parameters.
    assert count(DCGANGenerator(100, 3, 64, 64)) == 3_576_704
    assert count(DCGANDiscriminator(3, 64, 64)) == 2_765_568


@pytest.mark.parametrize("n_cls", [0, 10])
def test_sngan_shapes(n_cls):
    G, D = SNGANGenerator(32, 3, width=16, num_classes=n_cls), SNGANDiscriminator(3, width=16, num_classes=n_cls)
    y = torch.randint(0, 10, (4,)) if n_cls else None
    x = G(torch.randn(4, 32), y)
    assert x.shape == (4, 3, 32, 32) and D(x, y).shape == (4,)


def test_conditional_networks_use_and_need_labels():
    G = DCGANGenerator(8, 1, 16, width=8, num_classes=10).eval()
    D = DCGANDiscriminator(1, 16, width=8, num_classes=10).eval()
    with torch.no_grad():
        G.norms[0].gain.weight[3].mul_(2.0)  # make class 3 differ from class 4 from the start
    z = torch.randn(2, 8)
    a, b = G(z, torch.tensor([3, 3])), G(z, torch.tensor([4, 4]))
    assert not torch.allclose(a, b)
    with torch.no_grad():
        D.project.embed.weight.normal_()
    assert not torch.allclose(D(a, torch.tensor([1, 1])), D(a, torch.tensor([2, 2])))
    with pytest.raises(ValueError, match="class-conditional"):
        G(z)


def test_mlp_shapes():
    assert MLPGenerator(3, 2)(torch.randn(7, 3)).shape == (7, 2)
    assert MLPDiscriminator(2, spectral_norm=True)(torch.randn(7, 2)).shape == (7,)
