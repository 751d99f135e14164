"Edge cases and API contracts of srddpm.vae that the chapter's story does not show (fast, CPU)."
import math
import numpy as np
import pytest
import torch
from torch import nn

from srddpm.vae import (ConvAutoencoder, ConvEncoder, ConvDecoder, VAE, encode_dataset, fit_latent_gaussian,
                        gaussian_log_prob, kl_normal_std, reparam_gradient, sample_from_latent_gaussian,
                        score_function_gradient, train_autoencoder, train_vae)


def _images(n=16, channels=1, size=16, seed=0):
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize('channels,size,latent', [(1, 16, 2), (3, 8, 5), (1, 28, 3)])
def test_shapes(channels, size, latent):
    torch.manual_seed(0)
    x = _images(4, channels, size)
    vae = VAE(latent, channels=channels, image_size=size, width=8)
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (4, latent)
    assert vae.decode(mu).shape == x.shape
    assert vae.sample(3).shape == (3, channels, size, size)
    assert vae.elbo(x).shape == vae.iwae_bound(x, 3).shape == (4,)
    rec, kl = vae.elbo_terms(x, n_samples=2)
    assert rec.shape == kl.shape == (4,)
    ae = ConvAutoencoder(latent, channels=channels, image_size=size, width=8)
    assert ae.encode(x).shape == (4, latent) and ae(x).shape == x.shape and ae(x).abs().max() <= 1


def test_bad_arguments():
    with pytest.raises(ValueError, match='multiple of 4'): VAE(2, image_size=15)
    with pytest.raises(ValueError, match='multiple of 4'): ConvEncoder(2, image_size=10)
    with pytest.raises(ValueError, match='multiple of 4'): ConvDecoder(2, image_size=6)
    with pytest.raises(ValueError, match='latent_dim'): VAE(0)
    with pytest.raises(ValueError, match='positive'): VAE(2, sigma=0.0)
    with pytest.raises(ValueError, match='K must be'): VAE(2, width=8).iwae_bound(_images(2), 0)
    with pytest.raises(ValueError, match='no images'): train_vae(VAE(2, width=8), torch.zeros(0, 1, 16, 16), epochs=1)
    with pytest.raises(ValueError, match='N×C×H×W'): train_autoencoder(ConvAutoencoder(2, width=8), torch.zeros(5, 16, 16), epochs=1)
    with pytest.raises(ValueError, match='two images'): fit_latent_gaussian(ConvAutoencoder(2, width=8), _images(1))


def test_fixed_sigma_is_not_trained():
    vae = VAE(2, width=8, sigma=0.1)
    assert not vae.log_sigma.requires_grad and math.isclose(vae.sigma.item(), 0.1, rel_tol=1e-6)
    train_vae(vae, _images(8), epochs=1, batch_size=4)
    assert math.isclose(vae.sigma.item(), 0.1, rel_tol=1e-6)


def test_sampling_is_reproducible_with_a_generator():
    torch.manual_seed(0)
    vae = VAE(2, width=8)
    a = vae.sample(5, generator=torch.Generator().manual_seed(1))
    b = vae.sample(5, generator=torch.Generator().manual_seed(1))
    c = vae.sample(5, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    noisy = vae.sample(5, generator=torch.Generator().manual_seed(1), noise=True)
    assert not torch.equal(a, noisy)
    # the added pixel noise has the decoder's standard deviation
    big = vae.sample(2000, generator=torch.Generator().manual_seed(3), noise=True) - \
        vae.sample(2000, generator=torch.Generator().manual_seed(3))
    assert abs(big.std().item() / vae.sigma.item() - 1) < 0.02


def test_iwae_with_one_sample_is_the_elbo_on_the_same_noise():
    torch.manual_seed(0)
    vae, x = VAE(3, width=8), _images(6)
    with torch.no_grad():
        elbo = vae.elbo(x, n_samples=1, generator=torch.Generator().manual_seed(5))
    iwae1 = vae.iwae_bound(x, 1, generator=torch.Generator().manual_seed(5))
    # same z; the ELBO uses the closed-form KL, the IWAE the sampled log p(z) - log q(z|x): equal in expectation
    with torch.no_grad():
        elbo_avg = vae.elbo(x, n_samples=4000, generator=torch.Generator().manual_seed(6))
    iwae1_avg = torch.stack([vae.iwae_bound(x, 1, generator=torch.Generator().manual_seed(s)) for s in range(400)]).mean(0)
    assert elbo.shape == iwae1.shape
    assert (iwae1_avg - elbo_avg).abs().max() < 0.5
    iwae50 = vae.iwae_bound(x, 50, generator=torch.Generator().manual_seed(7))
    assert (iwae50 > elbo_avg).all()


def test_iwae_chunking_does_not_change_the_result():
    torch.manual_seed(0)
    vae, x = VAE(2, width=8), _images(3)
    a = vae.iwae_bound(x, 37, generator=torch.Generator().manual_seed(1), chunk=37)
    b = vae.iwae_bound(x, 37, generator=torch.Generator().manual_seed(1), chunk=37)
    assert torch.allclose(a, b)
    c = vae.iwae_bound(x, 37, generator=torch.Generator().manual_seed(1), chunk=5)
    assert torch.isfinite(c).all() and (c - a).abs().max() < 5  # different draws, same bound up to noise


def test_log_px_given_z_is_a_gaussian_density():
    torch.manual_seed(0)
    vae, x = VAE(2, width=8, sigma=0.3), _images(2)
    z = torch.randn(2, 2)
    ref = torch.distributions.Normal(vae.decode(z), 0.3).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(vae.log_px_given_z(x, z), ref, atol=1e-3)
    zz = torch.randn(4, 2, 2)
    assert vae.log_px_given_z(x, zz).shape == (4, 2)


def test_kl_and_log_prob_against_torch_distributions():
    mu, logvar = torch.randn(7, 4), torch.randn(7, 4)
    ref = torch.distributions.kl_divergence(torch.distributions.Normal(mu, (0.5 * logvar).exp()),
                                            torch.distributions.Normal(0., 1.)).sum(-1)
    assert torch.allclose(kl_normal_std(mu, logvar), ref, atol=1e-5)
    assert (kl_normal_std(mu, logvar) >= 0).all() and kl_normal_std(torch.zeros(3), torch.zeros(3)) == 0
    x = torch.randn(5, 3)
    assert torch.allclose(gaussian_log_prob(x, mu[:5, :3], logvar[:5, :3]),
                          torch.distributions.Normal(mu[:5, :3], (0.5 * logvar[:5, :3]).exp()).log_prob(x), atol=1e-5)


def test_gradient_estimators_on_a_linear_function():
    a = torch.tensor([[1.5, -2.0, 0.5]], dtype=torch.float64)
    f = lambda z: (z * a).sum(-1)          # E f = a.mu: grad_mu = a, grad_log_sigma = 0
    mu, ls = torch.zeros(1, 3, dtype=torch.float64), torch.full((1, 3), -0.5, dtype=torch.float64)
    g_mu, g_ls = reparam_gradient(f, mu, ls, 1000, torch.Generator().manual_seed(0))
    assert g_mu.shape == g_ls.shape == (1000, 3)
    assert torch.allclose(g_mu, a.expand(1000, -1))                      # exact for every sample
    assert (g_ls.mean(0).abs() < 4 * g_ls.std(0) / 1000**0.5).all()
    s_mu, s_ls = score_function_gradient(f, mu, ls, 20000, torch.Generator().manual_seed(1))
    assert ((s_mu.mean(0) - a[0]).abs() < 4 * s_mu.std(0) / 20000**0.5).all()
    assert (s_ls.mean(0).abs() < 4 * s_ls.std(0) / 20000**0.5).all()
    assert (s_mu.var(0) > 10 * g_mu.var(0)).all()


class _Identity2(nn.Module):
    "A stand-in 'autoencoder': the code is the first two pixels, the decoder puts the code back."
    def __init__(self):
        super().__init__(); self.p = nn.Parameter(torch.zeros(1))
    def encode(self, x): return x.flatten(1)[:, :2]
    def decode(self, z): return torch.cat([z, torch.zeros(len(z), 2)], 1).view(-1, 1, 2, 2)


def test_fit_and_sample_latent_gaussian():
    z = torch.randn(500, 2, generator=torch.Generator().manual_seed(0)) @ torch.tensor([[2.0, 0.0], [1.0, 0.5]]) + torch.tensor([1.0, -3.0])
    x = torch.cat([z, torch.zeros(500, 2)], 1).view(-1, 1, 2, 2)
    model = _Identity2()
    mean, cov = fit_latent_gaussian(model, x, batch_size=64)
    assert torch.allclose(mean, z.mean(0), atol=1e-5)
    assert np.allclose(cov.numpy(), np.cov(z.numpy().T), rtol=1e-4, atol=1e-5)
    assert torch.equal(encode_dataset(model, x, batch_size=7), z)
    s1 = sample_from_latent_gaussian(model, mean, cov, 20000, generator=torch.Generator().manual_seed(1))
    s2 = sample_from_latent_gaussian(model, mean, cov, 20000, generator=torch.Generator().manual_seed(1))
    assert torch.equal(s1, s2)
    zs = s1.flatten(1)[:, :2]
    assert torch.allclose(zs.mean(0), mean, atol=0.1) and torch.allclose(torch.cov(zs.T), cov, rtol=0.05, atol=0.05)
    # a singular covariance (codes on a line) still samples
    line = torch.tensor([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])
    m, c = fit_latent_gaussian(model, torch.cat([line, torch.zeros(3, 2)], 1).view(-1, 1, 2, 2))
    assert torch.isfinite(sample_from_latent_gaussian(model, m, c, 4)).all()


def test_encode_dataset_returns_posterior_means_for_a_vae():
    torch.manual_seed(0)
    vae, x = VAE(2, width=8), _images(10)
    with torch.no_grad(): mu, _ = vae.encode(x)
    assert torch.allclose(encode_dataset(vae, x, batch_size=3), mu, atol=1e-6)


def test_training_improves_and_reports_history():
    torch.manual_seed(0)
    x = _images(32)
    x = (x > 0.5).float() * 2 - 1                     # some structure to learn
    vae = VAE(2, width=8)
    with torch.no_grad(): before = vae.elbo(x, n_samples=20, generator=torch.Generator().manual_seed(0)).mean()
    hist = train_vae(vae, x, epochs=8, batch_size=16, test=x[:8])
    with torch.no_grad(): after = vae.elbo(x, n_samples=20, generator=torch.Generator().manual_seed(0)).mean()
    assert set(hist) == {'recon', 'kl', 'elbo', 'test_elbo'} and all(len(v) == 8 for v in hist.values())
    assert np.allclose(np.array(hist['elbo']), np.array(hist['recon']) - np.array(hist['kl']))
    assert all(np.isfinite(v).all() for v in hist.values())
    assert after > before
    assert not vae.training                           # returned in eval mode
    ae = ConvAutoencoder(2, width=8)
    h = train_autoencoder(ae, torch.utils.data.TensorDataset(x, torch.zeros(32)), epochs=5, batch_size=16)
    assert len(h['loss']) == 5 and h['test_loss'] == [] and h['loss'][-1] < h['loss'][0]


def test_training_is_reproducible():
    x = _images(16)
    out = []
    for _ in range(2):
        torch.manual_seed(0)
        vae = VAE(2, width=8)
        out.append(train_vae(vae, x, epochs=2, batch_size=8, seed=3)['elbo'])
    assert out[0] == out[1]
