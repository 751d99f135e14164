"Edge cases of srddpm.wgan not shown in the chapter's story."
import numpy as np
import pytest
import torch
import torch.nn as nn
from scipy import stats
from srddpm.wgan import *
from srddpm.gan import MLPGenerator, MLPDiscriminator

class Linear1D(nn.Module):
    "f(x) = w·x summed over features: gradient norm |w|·sqrt(d)-free check."
    def __init__(self, w): super().__init__(); self.w = nn.Parameter(torch.as_tensor(w, dtype=torch.float32))
    def forward(self, x): return (x.flatten(1) * self.w).sum(1)

def test_gradient_penalty_of_linear_critic():
    w = torch.tensor([3.0, 4.0])                       # ‖∇f‖ = 5 everywhere
    pen, norms = gradient_penalty(Linear1D(w), torch.randn(8, 2), torch.randn(8, 2))
    assert torch.allclose(norms, torch.full((8,), 5.0)) and abs(pen.item() - 16.0) < 1e-5
    # images: the norm runs over C, H, W
    f = Linear1D(torch.full((1 * 4 * 4,), 0.25))       # ‖∇f‖ = 0.25 * 4 = 1
    pen, norms = gradient_penalty(f, torch.randn(3, 1, 4, 4), torch.randn(3, 1, 4, 4))
    assert torch.allclose(norms, torch.ones(3)) and pen.item() < 1e-10
    with pytest.raises(ValueError): gradient_penalty(f, torch.randn(3, 16), torch.randn(2, 16))

def test_gradient_penalty_is_differentiable():
    f = Linear1D([2.0, 0.0])
    pen, _ = gradient_penalty(f, torch.randn(4, 2), torch.randn(4, 2))
    pen.backward()                                     # d/dw (|w|-1)^2 = 2(|w|-1) w/|w| = (2, 0)
    assert torch.allclose(f.w.grad, torch.tensor([2.0, 0.0]))

def test_wasserstein1_1d_closed_forms():
    x = np.linspace(-20, 20, 100_001)
    assert abs(wasserstein1_1d(lambda t: stats.norm.cdf(t, -1, 2), lambda t: stats.norm.cdf(t, 2.5, 2), x) - 3.5) < 1e-6
    assert abs(wasserstein1_1d(lambda t: stats.norm.cdf(t), lambda t: stats.norm.cdf(t), x)) < 1e-12

def test_critic_loss_sign():
    assert critic_loss(torch.tensor([2.0, 2.0]), torch.tensor([0.0, 1.0])).item() == -1.5

def test_tensor_sampler():
    x = torch.arange(10.0)[:, None]
    s = tensor_sampler(x)
    out = s(1000, torch.Generator().manual_seed(0))
    assert out.shape == (1000, 1) and set(out[:, 0].tolist()) <= set(range(10))
    with pytest.raises(ValueError): tensor_sampler(torch.zeros(0, 3))

def test_train_wgan_gp_runs():
    torch.manual_seed(0)
    G, C = MLPGenerator(hidden=16), MLPDiscriminator(hidden=16)
    calls = []
    h = train_wgan_gp(G, C, tensor_sampler(torch.randn(100, 2)), n_steps=4, batch_size=8, n_critic=2,
                      generator=torch.Generator().manual_seed(0), callback=lambda s, G, C: calls.append(s), every=2)
    assert calls == [0, 2, 4] and all(len(v) == 4 and np.isfinite(v).all() for v in h.values())

def test_fit_critic_validates_method():
    with pytest.raises(ValueError): fit_critic(MLPDiscriminator(in_dim=1), None, None, method='spectral')

def test_patch_discriminator():
    D = PatchDiscriminator(in_ch=3, base_ch=4, n_layers=2, norm='batch')
    assert D(torch.randn(2, 3, 32, 32)).shape == (2, 1, 6, 6) and D.receptive_field == 34
    assert PatchDiscriminator(in_ch=1, base_ch=4, n_layers=1, norm='none')(torch.randn(1, 1, 16, 16)).shape == (1, 1, 6, 6)
    with pytest.raises(ValueError): PatchDiscriminator(norm='group')
    with pytest.raises(ValueError): PatchDiscriminator(n_layers=0)
    with pytest.raises(ValueError): D(torch.randn(2, 1, 32, 32))
    # channels are capped at 8 * base_ch
    D5 = PatchDiscriminator(in_ch=3, base_ch=2, n_layers=5, norm='none')
    assert max(m.out_channels for m in D5.modules() if isinstance(m, nn.Conv2d)) == 16

def test_receptive_field_formula():
    net = nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3, stride=2), nn.Conv2d(1, 1, 3, dilation=2))
    assert conv_receptive_field(net) == 1 + 2 + 2 + 2 * 2 * 2

def test_spectral_norm_all_wraps_every_layer():
    m = spectral_norm_all(MLPDiscriminator(hidden=8))
    lin = [l for l in m.modules() if isinstance(l, nn.Linear)]
    assert len(lin) == 3 and all(hasattr(l, 'parametrizations') for l in lin)

def test_hinge_losses():
    assert hinge_d_loss(torch.ones(3), -torch.ones(3)).item() == 0
    assert abs(hinge_d_loss(torch.zeros(3), torch.zeros(3)).item() - 2) < 1e-7
    assert hinge_g_loss(torch.tensor([1.0, 3.0])).item() == -2
    # works on patch maps
    assert hinge_d_loss(torch.full((2, 1, 3, 3), 5.0), torch.full((2, 1, 3, 3), -5.0)).item() == 0
