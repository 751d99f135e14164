"Edge cases of srddpm.gan not shown in the chapter's story."
import math
import numpy as np
import pytest
import torch
from scipy import stats
from srddpm.gan import *
from srddpm.data import eight_gaussian_means, EIGHT_GAUSSIANS_STD

def test_shapes_and_bad_input():
    G, D = MLPGenerator(z_dim=3, hidden=16, out_dim=2), MLPDiscriminator(in_dim=2, hidden=16)
    assert G(torch.randn(5, 3)).shape == (5, 2) and D(torch.randn(5, 2)).shape == (5,)
    assert MLPDiscriminator(in_dim=1, hidden=8)(torch.randn(7)).shape == (7,)  # 1-D inputs may be flat
    with pytest.raises(ValueError): D(torch.randn(5, 3))
    with pytest.raises(ValueError): MLPGenerator(n_layers=0)
    assert len([m for m in MLPGenerator(n_layers=1).modules() if isinstance(m, torch.nn.Linear)]) == 1

def test_losses_match_definitions():
    a_real, a_fake = torch.randn(50), torch.randn(50)
    d = torch.sigmoid
    expected = -(torch.log(d(a_real)).mean() + torch.log(1 - d(a_fake)).mean())
    assert torch.allclose(discriminator_loss(a_real, a_fake), expected, atol=1e-5)
    assert torch.allclose(generator_loss(a_fake, 'saturating'), torch.log(1 - d(a_fake)).mean(), atol=1e-5)
    assert torch.allclose(generator_loss(a_fake, 'non_saturating'), -torch.log(d(a_fake)).mean(), atol=1e-5)
    # stable at extreme logits, where log(sigmoid) would give -inf
    assert torch.isfinite(generator_loss(torch.tensor([-200.0, 200.0]))).all()
    with pytest.raises(ValueError): generator_loss(a_fake, 'minimax')

def test_mixture_sampler():
    s = gaussian_mixture_sampler([-1.0, 3.0], [0.5, 0.5], weights=[0.25, 0.75])
    x = s(200_000, torch.Generator().manual_seed(0))
    assert x.shape == (200_000,) and abs(x.mean().item() - 2.0) < 0.02
    x2 = gaussian_mixture_sampler(eight_gaussian_means(), 0.2)(10, torch.Generator().manual_seed(0))
    assert x2.shape == (10, 2)
    assert torch.equal(s(5, torch.Generator().manual_seed(1)), s(5, torch.Generator().manual_seed(1)))
    with pytest.raises(ValueError): gaussian_mixture_sampler([0.0, 1.0], [1.0, 1.0], weights=[0.5, 0.6])

def test_jsd_limits():
    x = np.linspace(-30, 30, 100_001)
    p = lambda t: stats.norm.pdf(t, 0, 1)
    assert abs(jensen_shannon_1d(p, p, x)) < 1e-9
    assert abs(jensen_shannon_1d(p, lambda t: stats.norm.pdf(t, 20, 1), x) - math.log(2)) < 1e-6

def test_jsd_finite_where_densities_underflow():
    # on a wide grid both densities reach the smallest subnormal (5e-324), where m = (p + q) / 2
    # rounds to 0; the JSD must stay finite and agree with a grid that avoids the underflow
    p, q = (lambda t: stats.norm.pdf(t, 0, 1)), (lambda t: stats.norm.pdf(t, 1, 1))
    wide = jensen_shannon_1d(p, q, np.linspace(-40, 50, 400_001))
    assert math.isfinite(wide)
    assert abs(wide - jensen_shannon_1d(p, q, np.linspace(-12, 13, 400_001))) < 1e-9

def test_train_gan_history_and_callback():
    torch.manual_seed(0)
    G, D = MLPGenerator(hidden=16), MLPDiscriminator(hidden=16)
    calls = []
    h = train_gan(G, D, gaussian_mixture_sampler(eight_gaussian_means(), 0.2), n_steps=10, batch_size=16,
                  generator=torch.Generator().manual_seed(0), callback=lambda s, G, D: calls.append(s), every=5)
    assert calls == [0, 5, 10] and all(len(v) == 10 for v in h.values())
    x = sample_generator(G, 10, generator=torch.Generator().manual_seed(0))
    assert x.shape == (10, 2) and G.training
    assert torch.equal(x, sample_generator(G, 10, generator=torch.Generator().manual_seed(0)))

def test_train_gan_g_steps():
    "g_steps=1 is the default loop (same numbers); g_steps=3 moves G further per D step; 0 is refused."
    def run(**kw):
        torch.manual_seed(0)
        G, D = MLPGenerator(hidden=16), MLPDiscriminator(hidden=16)
        h = train_gan(G, D, gaussian_mixture_sampler(eight_gaussian_means(), 0.2), n_steps=6, batch_size=16,
                      generator=torch.Generator().manual_seed(0), **kw)
        return h, G
    h1, G1 = run(); h1b, _ = run(g_steps=1); h3, G3 = run(g_steps=3)
    assert h1 == h1b and len(h3['g_loss']) == 6
    assert not all(torch.equal(a, b) for a, b in zip(G1.parameters(), G3.parameters()))
    with pytest.raises(ValueError): run(g_steps=0)

def test_fit_discriminator_learns_separable():
    torch.manual_seed(0)
    D = MLPDiscriminator(in_dim=1, hidden=16)
    s1, s2 = gaussian_mixture_sampler([-3.0], [0.3]), gaussian_mixture_sampler([3.0], [0.3])
    losses = fit_discriminator(D, s1, s2, n_steps=100, batch_size=64, lr=1e-2, generator=torch.Generator().manual_seed(0))
    assert losses[-1] < 0.1 < losses[0]
