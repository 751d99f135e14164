"Edge cases and contracts of srddpm.dcgan that the chapter's story does not show."
import math
import pytest
import torch
import torch.nn as nn
from srddpm.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_init, sample_dcgan, train_dcgan


def small_pair(img_size=8, norm='batch', z_dim=4):
    torch.manual_seed(0)
    return DCGANGenerator(z_dim=z_dim, base_ch=4, img_size=img_size), DCGANDiscriminator(base_ch=4, img_size=img_size, norm=norm)


def toy_images(n=20, size=8, seed=0):
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize('size', [0, 4, 12, 24, -16, 16.0])
def test_bad_image_sizes(size):
    with pytest.raises(ValueError, match='power of two'): DCGANGenerator(img_size=size)
    with pytest.raises(ValueError, match='power of two'): DCGANDiscriminator(img_size=size)


def test_bad_norm():
    with pytest.raises(ValueError, match='norm'): DCGANDiscriminator(norm='instance')


def test_shape_validation():
    G, D = small_pair()
    with pytest.raises(ValueError, match='z of shape'): G(torch.randn(2, 5))
    with pytest.raises(ValueError, match='z of shape'): G(torch.randn(2, 4, 2, 2))
    with pytest.raises(ValueError, match='images of shape'): D(torch.randn(2, 1, 16, 16))
    with pytest.raises(ValueError, match='images of shape'): D(torch.randn(1, 8, 8))
    z = torch.randn(3, 4)
    G.eval()
    assert torch.equal(G(z), G(z[:, :, None, None]))


def test_rgb_and_large_sizes():
    G = DCGANGenerator(z_dim=8, base_ch=4, out_ch=3, img_size=64)
    D = DCGANDiscriminator(in_ch=3, base_ch=4, img_size=64, norm='layer')
    x = G(torch.randn(2, 8))
    assert x.shape == (2, 3, 64, 64) and D(x).shape == (2,)


def test_init_on_other_modules():
    torch.manual_seed(0)
    m = dcgan_init(nn.Sequential(nn.Linear(200, 300), nn.GroupNorm(1, 500), nn.LayerNorm(500), nn.Conv2d(3, 50, 3)))
    assert abs(m[0].weight.std().item() - 0.02) < 0.001 and torch.all(m[0].bias == 0)
    assert abs(m[1].weight.mean().item() - 1) < 0.01 and torch.all(m[1].bias == 0)
    assert abs(m[2].weight.std().item() - 0.02) < 0.005
    assert torch.all(m[3].bias == 0)
    before = nn.Conv2d(3, 3, 3, bias=False)
    dcgan_init(before)  # no bias: must not fail
    assert dcgan_init(nn.ReLU()) is not None


@pytest.mark.parametrize('norm', ['layer', 'none'])
def test_per_sample_gradients_without_batch_norm(norm):
    # WGAN-GP needs d D(x_i) / d x_j = 0 for i != j: true with layer norm or no norm, false with batch norm
    x = toy_images(6, size=16).requires_grad_(True)
    def first_grads(D):
        g_all, = torch.autograd.grad(D(x).sum(), x)
        g_two, = torch.autograd.grad(D(x[:2]).sum(), x)
        return g_all[0], g_two[0], g_all[0].abs().max()
    a, b, scale = first_grads(small_pair(img_size=16, norm=norm)[1])
    assert (a - b).abs().max() < 1e-5 * scale
    a, b, scale = first_grads(small_pair(img_size=16, norm='batch')[1])
    assert (a - b).abs().max() > 1e-2 * scale


def test_sample_dcgan_contract():
    G, _ = small_pair()
    G.train()
    a = sample_dcgan(G, 5, generator=torch.Generator().manual_seed(1))
    b = sample_dcgan(G, 5, generator=torch.Generator().manual_seed(1))
    assert G.training, 'sample_dcgan must restore the training mode'
    assert torch.equal(a, b) and a.shape == (5, 1, 8, 8) and a.device.type == 'cpu'
    assert a.abs().max() <= 1
    assert sample_dcgan(G, 0).shape == (0, 1, 8, 8)
    z = torch.randn(7, 4)
    # eval mode: a sample depends only on its own z, whatever the batching
    assert torch.allclose(sample_dcgan(G, 0, z=z, batch_size=3), sample_dcgan(G, 0, z=z, batch_size=7), atol=1e-6)


def test_train_dcgan_argument_errors():
    G, D = small_pair()
    x = toy_images()
    with pytest.raises(ValueError, match='exactly one'): train_dcgan(G, D, x)
    with pytest.raises(ValueError, match='exactly one'): train_dcgan(G, D, x, n_epochs=1, n_steps=1)
    with pytest.raises(ValueError, match=r'\[-1, 1\]'): train_dcgan(G, D, x * 3, n_steps=1, batch_size=4)
    with pytest.raises(ValueError, match='fewer than one batch'): train_dcgan(G, D, x, n_steps=1, batch_size=64)
    with pytest.raises(ValueError, match='fixed_noise'): train_dcgan(G, D, x, n_steps=1, batch_size=4, fixed_noise=torch.randn(3, 5))
    with pytest.raises(ValueError, match='N×C×H×W'): train_dcgan(G, D, x[:, 0], n_steps=1, batch_size=4)


def test_train_dcgan_history_and_determinism():
    from torch.utils.data import TensorDataset
    x = toy_images(22)
    runs = []
    for data in (x, TensorDataset(x, torch.zeros(22))):
        G, D = small_pair()
        w0 = [p.detach().clone() for p in G.parameters()]
        h = train_dcgan(G, D, data, n_steps=12, batch_size=4, generator=torch.Generator().manual_seed(3),
                        fixed_noise=torch.randn(3, 4, generator=torch.Generator().manual_seed(0)), snapshot_epochs=[1, 2])
        runs.append((h, G))
        assert h['steps_per_epoch'] == 5  # 22 // 4: the incomplete batch is dropped
        for k in ('d_loss', 'g_loss', 'd_real', 'd_fake', 'epoch'): assert len(h[k]) == 12
        assert h['epoch'][-1] == pytest.approx(12 / 5)
        assert [e for e, _ in h['snapshots']] == [0.0, 1.0, 2.0, pytest.approx(2.4)]
        assert all(0 <= p <= 1 for p in h['d_real'] + h['d_fake'])
        assert any(not torch.equal(a, b) for a, b in zip(w0, G.parameters())), 'the generator did not move'
    (h1, G1), (h2, G2) = runs
    assert h1['d_loss'] == h2['d_loss'] and all(torch.equal(a, b) for a, b in zip(G1.parameters(), G2.parameters()))


def test_train_dcgan_custom_losses_and_epochs():
    G, D = small_pair(norm='none')
    calls = {'d': 0, 'g': 0}
    def d_loss(r, f): calls['d'] += 1; return (f - r).mean()      # a critic-style loss, just to see it is used
    def g_loss(f): calls['g'] += 1; return -f.mean()
    h = train_dcgan(G, D, toy_images(16), n_epochs=2, batch_size=8, d_loss_fn=d_loss, g_loss_fn=g_loss, snapshot_every=1,
                    fixed_noise=torch.randn(2, 4))
    assert calls == {'d': 4, 'g': 4} and len(h['d_loss']) == 4
    assert [e for e, _ in h['snapshots']] == [0.0, 1.0, 2.0]
    h0 = train_dcgan(G, D, toy_images(16), n_epochs=0, batch_size=8)
    assert h0['d_loss'] == [] and h0['snapshots'] == []
