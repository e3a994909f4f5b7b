import torch

from gankit.evaluate import generate, truncated_noise
from gankit.nets import MLPGenerator


def test_truncated_noise_stays_within_the_bound_and_is_seeded():
    z = truncated_noise(2000, 8, 0.5, torch.Generator().manual_seed(1))
    assert z.abs().max() <= 0.5 and z.std() > 0.2
    assert torch.equal(z, truncated_noise(2000, 8, 0.5, torch.Generator().manual_seed(1)))


def test_generate_leaves_the_training_rng_alone():
    G = MLPGenerator(4, 2, hidden=8, layers=1)
    state = torch.get_rng_state()
    a = generate(G, 10, 4, seed=5)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, generate(G, 10, 4, seed=5)) and a.shape == (10, 2)
