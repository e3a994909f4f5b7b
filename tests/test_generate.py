"""Drawing samples (gankit.generate) beyond what test_evaluate.py covers: G run in eval mode chunk by chunk,
its mode restored; data-parallel parts of the evaluation samples that gather to the one-process set;
classes in turn; the global RNG untouched."""

import pytest
import torch
from torch import nn

from gankit.data import to_uint8
from gankit.generate import generate, run_generator, sample_uint8, truncated_noise
from gankit.nets import DCGANGenerator, MLPGenerator


class LabelEcho(nn.Module):
    """A conditional 'generator' whose image shows its class: every pixel is y/10 in [−1, 1] scale,
    plus a small multiple of z's first entry (so samples of one class still differ)."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(0.01))

    def forward(self, z, y=None):
        v = y.float() / 10 + self.scale * z[:, 0]
        return (2 * v - 1)[:, None, None, None].expand(-1, 1, 2, 2)


def _dcgan():
    G = DCGANGenerator(8, 1, 8, width=4)  # batch norm: eval and train modes differ
    with torch.no_grad():  # running statistics unlike any batch's, so that the mode shows in the output
        for m in G.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    return G


def test_run_generator_is_g_in_eval_mode_and_restores_the_mode():
    G = _dcgan().train()
    z = torch.randn(12, 8)
    out = run_generator(G, z)
    assert G.training  # restored
    with torch.no_grad():
        expected = G.eval()(z)
        in_train_mode = G.train()(z)
    assert out.dtype == torch.float32 and out.device.type == "cpu"
    assert torch.equal(out, expected)
    assert not torch.allclose(out, in_train_mode, atol=1e-3)  # batch statistics would give other samples
    G.eval()
    run_generator(G, z)
    assert not G.training  # an eval-mode G stays in eval mode


@pytest.mark.parametrize("make", [lambda: MLPGenerator(4, 2, hidden=8, layers=2), _dcgan], ids=["mlp", "dcgan"])
def test_run_generator_in_chunks_equals_one_pass(make):
    G = make()
    z_dim = 4 if isinstance(G, MLPGenerator) else 8
    z = torch.randn(10, z_dim)
    whole = run_generator(G, z)
    for chunk in (1, 3, 10, 64):
        assert torch.allclose(run_generator(G, z, chunk=chunk), whole, atol=1e-6, rtol=0), chunk
    assert whole.shape[0] == 10


def test_run_generator_passes_each_chunk_its_own_labels():
    G = LabelEcho()
    z, y = torch.zeros(7, 3), torch.tensor([0, 1, 2, 3, 4, 5, 6])
    for chunk in (1, 2, 7):
        out = run_generator(G, z, y, chunk=chunk)
        assert torch.allclose(out[:, 0, 0, 0], 2 * y.float() / 10 - 1), chunk


def test_generate_is_g_of_the_seeded_noise_and_none_draws_from_the_global_rng():
    G = MLPGenerator(4, 2, hidden=8, layers=1)
    z = truncated_noise(6, 4, 0.5, torch.Generator().manual_seed(3))
    assert torch.equal(generate(G, 6, 4, seed=3, truncation=0.5), run_generator(G, z))
    torch.manual_seed(9)
    a = generate(G, 6, 4)
    torch.manual_seed(9)
    assert torch.equal(a, run_generator(G, torch.randn(6, 4)))
    assert not torch.equal(generate(G, 6, 4, seed=1), generate(G, 6, 4, seed=2))


@pytest.mark.parametrize("n, ranks", [(10, 2), (10, 3), (7, 4), (3, 4)])
def test_the_parts_of_data_parallel_processes_gather_to_the_whole(n, ranks):
    G = _dcgan()
    per = -(-n // ranks)  # contiguous blocks, as gankit.distributed.part cuts them
    # G runs the same batches in both (chunks of `per`), so the samples agree bit for bit
    whole = sample_uint8(G, 8, 0, n, seed=5, chunk=per)
    assert whole.dtype == torch.uint8 and whole.shape == (n, 1, 8, 8)
    parts = [
        sample_uint8(G, 8, 0, n, seed=5, part=slice(min(r * per, n), min((r + 1) * per, n)), chunk=per)
        for r in range(ranks)
    ]
    assert torch.equal(torch.cat(parts), whole)
    assert not torch.equal(sample_uint8(G, 8, 0, n, seed=6), whole)  # the seed picks the samples


def test_sample_uint8_quantises_as_saved_images_are_and_chunks_change_nothing():
    G = _dcgan()
    z = truncated_noise(9, 8, None, torch.Generator().manual_seed(777))
    expected = to_uint8(run_generator(G, z))
    assert torch.equal(sample_uint8(G, 8, 0, 9), expected)  # the default seed
    diff = (sample_uint8(G, 8, 0, 9, chunk=2).int() - expected.int()).abs()
    assert diff.max() <= 1  # per-chunk rounding can move a value sitting on a half step by one level


def test_sample_uint8_takes_the_classes_in_turn_in_every_part():
    G = LabelEcho()
    n, k = 23, 10
    whole = sample_uint8(G, 3, k, n, seed=0)
    classes = (whole[:, 0, 0, 0].float() / 25.5).round().long()  # the pixel is about 25.5·y (LabelEcho)
    assert torch.equal(classes, torch.arange(n) % k)
    part = sample_uint8(G, 3, k, n, seed=0, part=slice(12, 23), chunk=4)
    assert torch.equal(part, whole[12:])


def test_sample_uint8_leaves_the_training_rng_alone():
    G = MLPGenerator(4, 2, hidden=8, layers=1)
    state = torch.get_rng_state()
    sample_uint8(G, 4, 0, 20, seed=1, chunk=3)
    assert torch.equal(torch.get_rng_state(), state)
