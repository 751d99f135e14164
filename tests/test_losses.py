"""Tests of srddpm.losses beyond the chapter: VGG19 weight discovery in the local hub cache (never a download),
bad arguments, and gradient isolation."""
import pytest
import torch
import torch.nn as nn
from srddpm.losses import *


@pytest.fixture
def hub(tmp_path, monkeypatch):
    # torch.hub.set_dir pins a global that outlives TORCH_HOME: restore the raw global (usually None), so later
    # tests that point TORCH_HOME elsewhere are not sent to this temporary folder
    monkeypatch.setattr(torch.hub, '_hub_dir', None)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    torch.hub.set_dir(str(tmp_path / 'hub'))
    yield tmp_path / 'hub' / 'checkpoints'


def test_perceptual_without_weights_is_zero_and_says_so(hub, capsys, monkeypatch):
    def no_download(*a, **k): raise AssertionError('must never download')
    monkeypatch.setattr(torch.hub, 'load_state_dict_from_url', no_download)
    monkeypatch.setattr(torch.hub, 'download_url_to_file', no_download)
    loss = VGGPerceptualLoss()
    out = capsys.readouterr().out
    assert not loss.available and out.count('\n') == 1 and 'disabled' in out
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    assert loss(x, torch.rand(1, 3, 16, 16)).item() == 0.0
    VGGPerceptualLoss(verbose=False); assert capsys.readouterr().out == ''


def test_perceptual_finds_local_weights(hub):
    "A torchvision-style file (only the first convolutions, random weights) in the hub cache is found and loaded."
    torch.manual_seed(0)
    src = vgg19_features(9)
    hub.mkdir(parents=True)
    torch.save({f'features.{k}': v for k, v in src.state_dict().items()}, hub / 'vgg19-dcbb9e9d.pth')
    loss = VGGPerceptualLoss(layers=('relu1_2', 'relu2_2'))
    assert loss.available and loss.source.endswith('vgg19-dcbb9e9d.pth')
    for a, b in zip(loss.vgg.state_dict().values(), src.state_dict().values()): assert torch.equal(a, b)
    x, y = torch.rand(2, 3, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
    assert loss(x, y) > 0 and loss(x, x) == 0
    assert all(not p.requires_grad for p in loss.parameters())


def test_perceptual_refuses_bad_arguments():
    with pytest.raises(ValueError, match='unknown VGG19 layers'): VGGPerceptualLoss(layers=('relu6_1',), verbose=False)
    with pytest.raises(ValueError, match='criterion'): VGGPerceptualLoss(criterion='l2', verbose=False)
    with pytest.raises(ValueError, match='one weight per layer'): VGGPerceptualLoss(layers=('relu1_1',), weights=(1, 2), verbose=False)
    loss = VGGPerceptualLoss(layers=('relu1_1',), vgg=vgg19_features(2))
    with pytest.raises(ValueError, match='RGB'): loss(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8))


def test_perceptual_mse_and_weights():
    torch.manual_seed(0)
    vgg = vgg19_features(4)
    x, y = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    one = VGGPerceptualLoss(layers=('relu1_1', 'relu1_2'), weights=(1.0, 0.0), vgg=vgg, criterion='mse')
    two = VGGPerceptualLoss(layers=('relu1_1',), vgg=vgg, criterion='mse')
    torch.testing.assert_close(one(x, y), two(x, y))


def test_layer_names():
    names = vgg19_layer_names()
    assert names[:5] == ['conv1_1', 'relu1_1', 'conv1_2', 'relu1_2', 'pool1'] and names[-1] == 'pool5' and len(names) == 37


def test_diffusion_and_x0_losses():
    x = torch.randn(3, 3, 4, 4)
    assert target_loss(x, x + 2, 'mse') == 4 and target_loss(x, x + 2) == 2 and x0_l1_loss(x, x - 2) == 2
    with pytest.raises(ValueError): x0_l1_loss(x, x[:1])


def test_hinge_zero_beyond_margin_and_gradient_mask():
    real = torch.tensor([3.0, 0.9], requires_grad=True); fake = torch.tensor([-3.0, -0.9], requires_grad=True)
    hinge_d_loss(real, fake).backward()
    assert real.grad.tolist() == [0.0, -0.5] and fake.grad.tolist() == [0.0, 0.5]
    assert hinge_d_loss(real.detach() + 10, fake.detach() - 10) == 0


def test_freeze_and_srlosses_without_perceptual():
    m = freeze(nn.Linear(2, 2))
    assert not m.training and all(not p.requires_grad for p in m.parameters())
    l = SRLosses(perceptual=None, l1_weight=1.0, adv_weight=0.5)
    sr, hr = torch.zeros(1, 3, 4, 4, requires_grad=True), torch.ones(1, 3, 4, 4)
    out = l.generator_loss(sr, hr, torch.full((1, 1, 2, 2), 2.0))
    assert out['perceptual'] == 0 and torch.isclose(out['loss'], torch.tensor(1.0 - 1.0))


def test_feature_matching_stand_in():
    "Without VGG19 weights the perceptual loss is the discriminator's feature matching: zero on equal images, one pass."
    import torch
    from srddpm.losses import FeatureMatchingLoss, perceptual_loss, discriminator_features
    from srddpm.wgan import PatchDiscriminator
    torch.manual_seed(0)
    D = PatchDiscriminator(3, 8, 3, norm='spectral')
    fm = FeatureMatchingLoss(D)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert fm(x, x).item() == 0                     # spectral norm in training mode: still one consistent pass
    y = (x + 0.3 * torch.randn_like(x)).requires_grad_()
    loss = fm(y, x); loss.backward()
    assert loss > 0 and y.grad.abs().sum() > 0 and not list(fm.parameters())
    assert len(discriminator_features(D, x)) == 4
    p = perceptual_loss(D, verbose=False)
    assert p is not None and p.available
    from srddpm.losses import VGGPerceptualLoss
    assert (perceptual_loss(None, verbose=False) is None) == (not VGGPerceptualLoss(verbose=False).available)
