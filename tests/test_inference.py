"srddpm.inference: sr_sample / upscale arguments, tiled = untiled on one tile, tiles of any size."
import numpy as np
import pytest
import torch
from srddpm.inference import *
from srddpm.architecture import SRDDPM, SRDDPMConfig
from srddpm.sr_data import bicubic_up

@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    m = SRDDPM(SRDDPMConfig.for_profile('ci', T=8)).eval()
    with torch.no_grad():
        for p in m.denoiser.parameters(): p.add_(0.05 * torch.randn_like(p))
    return m

def lr_img(h=6, w=10):
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0)) * 2 - 1

@pytest.mark.parametrize('sampler, n', [('ddim', 3), ('ddpm', None)])
def test_one_tile_equals_untiled(model, sampler, n):
    g = lambda: torch.Generator().manual_seed(5)
    a = sr_sample(model, lr_img(), n_steps=n, sampler=sampler, generator=g(), show_progress=False)
    b = sr_sample(model, lr_img(), n_steps=n, sampler=sampler, generator=g(), tile=16, show_progress=False)
    assert torch.equal(a, b)

def test_matches_model_sample(model):
    a = sr_sample(model, lr_img(), n_steps=4, generator=torch.Generator().manual_seed(1), show_progress=False)
    b = model.sample(lr_img(), n_steps=4, generator=torch.Generator().manual_seed(1), show_progress=False)
    assert torch.equal(a, b)

def test_tiles_odd_sizes(model):
    out = sr_sample(model, lr_img(7, 11), n_steps=2, tile=4, overlap=1, generator=torch.Generator().manual_seed(0), show_progress=False)
    assert out.shape == (1, 3, 28, 44) and torch.isfinite(out).all() and out.abs().max() <= 1

def test_seed_changes_sample_and_ddim_deterministic(model):
    s = lambda seed: sr_sample(model, lr_img(), n_steps=3, generator=torch.Generator().manual_seed(seed), show_progress=False)
    assert torch.equal(s(1), s(1)) and not torch.equal(s(1), s(2))

def test_bad_arguments(model):
    with pytest.raises(ValueError, match='sampler'): sr_sample(model, lr_img(), sampler='euler')
    with pytest.raises(ValueError, match='n_average'): sr_sample(model, lr_img(), n_average=0)
    with pytest.raises(ValueError, match='tile'): sr_sample(model, lr_img(), tile=4, overlap=4)
    with pytest.raises(ValueError, match='shape'): sr_sample(model, torch.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match='method'): upscale(lr_img(), 'nearest')
    with pytest.raises(ValueError, match='scale'): upscale(lr_img(), 'bicubic', scale=3)
    with pytest.raises(ValueError, match='x4'): upscale(lr_img(), 'regression', model, scale=2)
    with pytest.raises(ValueError, match='needs a model'): upscale(lr_img(), 'srddpm')
    with pytest.raises(ValueError, match='uint8'): upscale(np.zeros((4, 4, 3), np.float32), 'bicubic')
    with pytest.raises(TypeError): upscale([1, 2], 'bicubic')

def test_upscale_methods(model):
    x = lr_img()
    torch.testing.assert_close(upscale(x, 'bicubic', scale=4), bicubic_up(x, 4))
    torch.testing.assert_close(upscale(x, 'regression', model), model.encoder(x).clamp(-1, 1))
    tiled = upscale(x, 'regression', model, tile=4, overlap=2)
    assert tiled.shape == (1, 3, 24, 40)
    arr = upscale((np.random.default_rng(0).random((6, 10, 3)) * 255).astype(np.uint8), 'srddpm', model, n_steps=2, show_progress=False)
    assert arr.dtype == np.uint8 and arr.shape == (24, 40, 3)

def _lr_residual(sr, lr, s=4):
    from srddpm.sr_data import make_lr
    return float((make_lr(sr, s, clamp=False) - lr).norm())

def test_lr_project_contracts_residual():
    "Back-projection: the LR residual falls every iteration; 0 iterations is the identity; sizes are checked."
    g = torch.Generator().manual_seed(3)
    lr = (torch.rand(1, 3, 12, 16, generator=g) * 1.6 - 0.8)
    sr = (torch.rand(1, 3, 48, 64, generator=g) * 1.6 - 0.8)       # unrelated to lr: a large residual
    res = [_lr_residual(sr, lr)]
    x = sr
    for _ in range(4):
        x = lr_project(x, lr, 4, n_iter=1, clamp=False)
        res.append(_lr_residual(x, lr))
    assert all(b < 0.8 * a for a, b in zip(res, res[1:])), res
    assert torch.equal(lr_project(sr, lr, 4, n_iter=0), sr)
    assert lr_project(sr, lr, 4).abs().max() <= 1
    with pytest.raises(ValueError): lr_project(sr[..., :40, :], lr, 4)
    with pytest.raises(ValueError): lr_project(sr, lr, 4, n_iter=-1)

def test_upscale_project_raises_lr_consistency(model):
    lr = lr_img(8, 8) * 0.8
    a = upscale(lr, 'srddpm', model, 4, n_steps=3, generator=torch.Generator().manual_seed(0), show_progress=False)
    b = upscale(lr, 'srddpm', model, 4, n_steps=3, generator=torch.Generator().manual_seed(0), show_progress=False, project=3)
    assert _lr_residual(b, lr) < 0.5 * _lr_residual(a, lr)
    # bicubic is the baseline: never projected
    assert torch.equal(upscale(lr, 'bicubic', scale=4, project=3), upscale(lr, 'bicubic', scale=4))
