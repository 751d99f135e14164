"srddpm.inference: sr_sample / upscale arguments, tiles that do not change the result, memory bounded by the tile."
import json, subprocess, sys
import numpy as np
import pytest
import torch
from srddpm.inference import *
from srddpm.architecture import SRDDPM, SRDDPMConfig
from srddpm.data import bicubic_up, make_lr

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

def test_matches_model_sample_from_block_noise(model):
    a = sr_sample(model, lr_img(), n_steps=4, generator=torch.Generator().manual_seed(1), show_progress=False)
    g = torch.Generator().manual_seed(1)
    seed = int(torch.randint(0, 2 ** 62, (1,), generator=g))
    b = model.sample(lr_img(), n_steps=4, generator=g, show_progress=False, x_T=block_noise(seed, 1, 3, (0, 24, 0, 40)))
    assert torch.equal(a, b)

def test_block_noise_is_a_function_of_the_pixel():
    full = block_noise(3, 2, 3, (0, 100, 0, 70))
    assert full.shape == (2, 3, 100, 70)
    for win in [(5, 37, 0, 70), (31, 33, 63, 70), (64, 100, 32, 64)]:
        y0, y1, x0, x1 = win
        assert torch.equal(block_noise(3, 2, 3, win), full[..., y0:y1, x0:x1])
    assert not torch.equal(block_noise(4, 2, 3, (0, 100, 0, 70)), full)
    assert abs(full.mean()) < 0.05 and abs(full.std() - 1) < 0.05

def test_tiles_start_on_the_models_grid(model):
    assert model.lr_multiple == 2                       # f = 2, three U-Net levels, x4
    for L in (17, 40, 99):
        for a in tile_starts(L, 9, 3, model.lr_multiple): assert a % 2 == 0
    out = sr_sample(model, lr_img(7, 11), n_steps=2, tile=5, overlap=1, generator=torch.Generator().manual_seed(0),
                    show_progress=False)
    assert out.shape == (1, 3, 28, 44) and torch.isfinite(out).all() and out.abs().max() <= 1

def test_tile_size_changes_only_the_blend(model):
    "A local denoiser on its grid: any two tilings agree far beyond 8-bit precision (PSNR between them > 60 dB)."
    lr = lr_img(24, 40)
    g = lambda: torch.Generator().manual_seed(1)
    whole = sr_sample(model, lr, n_steps=4, generator=g(), show_progress=False)
    for tile, overlap in [(8, 4), (12, 4), (16, 8)]:
        tiled = sr_sample(model, lr, n_steps=4, generator=g(), tile=tile, overlap=overlap, show_progress=False)
        mse = float(((tiled - whole) ** 2).mean())
        assert 10 * np.log10(4 / mse) > 60, (tile, overlap, mse)

def test_seed_changes_sample_and_ddim_deterministic(model):
    s = lambda seed: sr_sample(model, lr_img(), n_steps=3, generator=torch.Generator().manual_seed(seed), show_progress=False)
    assert torch.equal(s(1), s(1)) and not torch.equal(s(1), s(2))

def test_progress_counts_steps_of_every_tile(model, monkeypatch):
    import srddpm.inference as inf
    bars = []
    class Bar:
        def __init__(self, total=None, **kw): self.total, self.n = total, 0; bars.append(self)
        def update(self, k): self.n += k
        def close(self): pass
    monkeypatch.setattr(inf, 'progress', lambda **kw: Bar(**kw))
    sr_sample(model, lr_img(16, 24), n_steps=3, n_average=2, tile=8, overlap=2, generator=torch.Generator().manual_seed(0))
    n_tiles = len(tile_starts(16, 8, 2, 2)) * len(tile_starts(24, 8, 2, 2))
    assert bars[0].total == bars[0].n == n_tiles * 2 * 3

def test_bad_arguments(model):
    with pytest.raises(ValueError, match='sampler'): sr_sample(model, lr_img(), sampler='euler')
    with pytest.raises(ValueError, match='n_average'): sr_sample(model, lr_img(), n_average=0)
    with pytest.raises(ValueError, match='tile'): sr_sample(model, lr_img(), tile=4, overlap=4)
    with pytest.raises(ValueError, match='tile'): sr_sample(model, lr_img(), tile=7, overlap=4)   # 7 < 2 x 4
    with pytest.raises(ValueError, match='shape'): sr_sample(model, torch.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match='method'): upscale(lr_img(), 'nearest')
    with pytest.raises(ValueError, match='scale'): upscale(lr_img(), 'bicubic', scale=3)
    with pytest.raises(ValueError, match='x4'): upscale(lr_img(), 'regression', model, scale=2)
    with pytest.raises(ValueError, match='needs a model'): upscale(lr_img(), 'srddpm')
    with pytest.raises(ValueError, match='uint8'): upscale(np.zeros((4, 4, 3), np.float32), 'bicubic')
    with pytest.raises(TypeError): upscale([1, 2], 'bicubic')
    with pytest.raises(ValueError, match='tile'): check_tile(15, 8, 1)      # tiles must add as much as they share
    with pytest.raises(ValueError, match='tile'): check_tile(5, 2, 4)       # and advance by whole grid steps
    check_tile(16, 8, 1); check_tile(6, 2, 4); check_tile(None, 8, 4)
    assert min_tile(8, 1) == 16 and min_tile(2, 4) == 6

def test_upscale_methods(model):
    x = lr_img()
    torch.testing.assert_close(upscale(x, 'bicubic', scale=4), bicubic_up(x, 4))
    torch.testing.assert_close(upscale(x, 'regression', model), model.encoder(x).clamp(-1, 1))
    tiled = upscale(x, 'regression', model, tile=4, overlap=2)
    assert tiled.shape == (1, 3, 24, 40)
    u8 = (np.random.default_rng(0).random((6, 10, 3)) * 255).astype(np.uint8)
    arr = upscale(u8, 'srddpm', model, n_steps=2, show_progress=False, generator=torch.Generator().manual_seed(0))
    ten = upscale(torch.from_numpy(u8).permute(2, 0, 1)[None].float() / 127.5 - 1, 'srddpm', model, n_steps=2,
                  show_progress=False, generator=torch.Generator().manual_seed(0))
    assert arr.dtype == np.uint8 and arr.shape == (24, 40, 3)
    assert np.array_equal(arr, ((ten[0].permute(1, 2, 0) + 1) * 127.5).clamp(0, 255).round().to(torch.uint8).numpy())

def _lr_residual(sr, lr, s=4):
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

_PEAK = r'''
import json, sys, numpy as np, torch
from srddpm.architecture import SRDDPM, SRDDPMConfig
from srddpm.inference import upscale
a = json.loads(sys.argv[1])
torch.set_num_threads(1); torch.manual_seed(0)
model = SRDDPM(SRDDPMConfig.for_profile(a['profile'])).eval()
lr = (np.random.default_rng(0).random((a['h'], a['w'], 3)) * 255).astype(np.uint8)
upscale(lr[:16, :16], 'srddpm', model, 4, n_steps=1, tile=16, show_progress=False)     # warm-up: allocator, caches
hwm = lambda: int([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]) / 1024
open('/proc/self/clear_refs', 'w').write('5')                                            # reset the high-water mark
before = hwm()
out = upscale(lr, 'srddpm', model, 4, n_steps=1, tile=a['tile'], overlap=8, show_progress=False)
print(json.dumps(dict(extra_mb=hwm() - before, shape=list(out.shape))))
'''

def _extra_mb(h, w, tile, profile='ci'):
    r = subprocess.run([sys.executable, '-c', _PEAK, json.dumps(dict(h=h, w=w, tile=tile, profile=profile))], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    d = json.loads(r.stdout.strip().splitlines()[-1])
    assert d['shape'] == [4 * h, 4 * w, 3]
    return d['extra_mb']

def test_peak_memory_does_not_grow_with_the_image_at_a_fixed_tile():
    "Two photos, 0.07 and 0.6 output megapixels, one tile size: the same peak memory within a small margin."
    small, large = _extra_mb(64, 64, 48), _extra_mb(192, 192, 48)
    # the large output alone is 0.75 MB of uint8 more; a band of rows a few MB; everything else is per tile
    assert large <= small * 1.15 + 25, (small, large)
    # the check can fail: without tiles the peak follows the image (a float HR image alone is 12 MB per MP)
    untiled = _extra_mb(192, 192, None)
    assert untiled > large + 60, (large, untiled)


def test_progress_counts_tiles_for_every_method(model):
    "on_progress(done, total) ends at total: denoising steps of all tiles for srddpm, tiles for the others."
    photo = np.random.default_rng(0).integers(0, 256, (40, 52, 3), dtype=np.uint8)
    mult = tile_multiple(model)
    n_tiles = len(tile_starts(40, 32, UPSCALE_OVERLAP, mult)) * len(tile_starts(52, 32, UPSCALE_OVERLAP, mult))
    srddpm_kw = dict(n_steps=3, n_average=2, show_progress=False)
    for method, kw, total in (('srddpm', srddpm_kw, 2 * n_tiles * 3), ('regression', {}, n_tiles)):
        seen = []
        upscale(photo, method, model, 4, tile=32, on_progress=lambda d, n: seen.append((d, n)), **kw)
        assert seen == [(k, total) for k in range(1, total + 1)], (method, seen[-3:])
    assert tiled_pixels(40, 52, 32, mult) >= 40 * 52 and tiled_pixels(40, 52, None) == 40 * 52


def test_upscale_photo_is_upscale_with_a_fresh_seed(model):
    "The service gives `upscale`'s image for its seed, whatever ran before; grey stays grey; alpha comes back enlarged."
    photo = np.random.default_rng(1).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    opts = UpscaleOptions(steps=2, tile=None, project=1, seed=5)
    ref = upscale(photo, 'srddpm', model, 4, n_steps=2, project=1, overlap=UPSCALE_OVERLAP,
                  generator=torch.Generator().manual_seed(5), show_progress=False,
                  texture=UPSCALE_TEXTURE, keep_smooth=True)
    assert np.array_equal(upscale_photo(photo, opts, model).image, ref)
    assert np.array_equal(upscale_photo(photo, opts, model).image, ref)          # again: the same
    grey = np.repeat(photo[..., :1], 3, -1)
    assert upscale_photo(grey, opts, model).image.shape == (48, 64)
    rgba = np.dstack([photo, np.full((12, 16), 200, np.uint8)])
    out = upscale_photo(rgba, opts, model).image
    assert out.shape == (48, 64, 4) and (out[..., 3] == 200).all() and np.array_equal(out[..., :3], ref)
    with pytest.raises(UpscaleError, match='--average'): upscale_photo(photo, UpscaleOptions(average=0), model)


def test_texture_start():
    "The shallow start's first step and evaluations: round(τ(T-1)) and ceil(τn), the full chain at 1, none at 0."
    assert texture_start(100, 5, 1.0) == (None, 5) and texture_start(100, None, 1.0) == (None, 100)
    assert texture_start(100, 5, 0.0) == (None, 0)
    assert texture_start(100, 5, 0.4) == (40, 2) and texture_start(100, 5, 0.5) == (50, 3)
    assert texture_start(100, 5, 0.1) == (10, 1) and texture_start(100, 5, 0.001) == (0, 1)
    assert texture_start(100, None, 0.5, sampler='ddpm') == (50, 50)
    for bad in (-0.1, 1.5, float('nan')):
        with pytest.raises(ValueError, match='texture'): texture_start(100, 5, bad)

def test_texture_ends_are_the_full_chain_and_the_reference(model):
    "Texture 1 is today's sampler (SRDDPM.sample from block noise) within 1e-5; texture 0 is the reference image."
    g = lambda: torch.Generator().manual_seed(1)
    one = sr_sample(model, lr_img(), n_steps=4, generator=g(), show_progress=False, texture=1.0)
    gen = g()
    seed = int(torch.randint(0, 2 ** 62, (1,), generator=gen))
    today = model.sample(lr_img(), n_steps=4, generator=gen, show_progress=False,
                         x_T=block_noise(seed, 1, 3, (0, 24, 0, 40)))
    assert (one - today).abs().max() <= 1e-5
    zero = sr_sample(model, lr_img(), n_steps=4, generator=g(), show_progress=False, texture=0.0)
    assert torch.equal(zero, model.reference(lr_img()).clamp(-1, 1))

def test_shallow_start_is_the_chain_from_its_step(model):
    """Texture τ runs ceil(τ n) steps from t_0 = round(τ(T-1)), started from sqrt(1 - ᾱ_{t_0}) times the block noise:
    the same as SRDDPM.sample(t_start=t_0); tiles do not change it."""
    g = lambda: torch.Generator().manual_seed(2)
    got = sr_sample(model, lr_img(), n_steps=4, generator=g(), show_progress=False, texture=0.6)
    t0, n = texture_start(model.config.T, 4, 0.6)
    gen = g()
    seed = int(torch.randint(0, 2 ** 62, (1,), generator=gen))
    want = model.sample(lr_img(), n_steps=n, generator=gen, show_progress=False, t_start=t0,
                        x_T=block_noise(seed, 1, 3, (0, 24, 0, 40)))
    assert torch.equal(got, want) and (t0, n) == (4, 3)
    tiled = sr_sample(model, lr_img(), n_steps=4, generator=g(), show_progress=False, texture=0.6, tile=16)
    assert torch.equal(tiled, got)
    with pytest.raises(ValueError, match='start'): model.sample(lr_img(), n_steps=2, t_start=model.config.T)

def test_smooth_gate():
    "No detail: exactly the bicubic enlargement; strong detail everywhere: exactly the input; bad sizes refused."
    flat = torch.full((1, 3, 12, 16), 0.2)
    assert lr_detail(flat).abs().max() < 1e-6
    sr = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert torch.equal(smooth_gate(sr, flat, 4), bicubic_up(flat, 4))
    checker = (torch.arange(16)[None, :] + torch.arange(12)[:, None]) % 2 * 1.6 - 0.8   # ±0.8: 102 levels
    busy = checker.expand(1, 3, 12, 16).clone()
    assert lr_detail(busy).min() > DETAIL_HI
    assert torch.allclose(smooth_gate(sr, busy, 4), sr, atol=1e-6)
    with pytest.raises(ValueError, match='expected'): smooth_gate(sr, busy, 2)
    with pytest.raises(ValueError, match='below'): smooth_gate(sr, busy, 4, lo=5, hi=5)

def test_keep_smooth_in_the_service(model):
    "UpscaleOptions keeps smooth regions by default; a flat photo then comes back as its bicubic enlargement."
    assert UpscaleOptions().keep_smooth and UpscaleOptions().texture == UPSCALE_TEXTURE
    flat = np.full((16, 20, 3), 90, np.uint8)
    for method in ('srddpm', 'regression'):
        got = upscale_photo(flat, UpscaleOptions(method=method), model).image
        assert np.array_equal(got, upscale_photo(flat, UpscaleOptions(method='bicubic'), model).image), method
    with pytest.raises(UpscaleError, match='--texture'): check_options(UpscaleOptions(texture=-1))

def test_fit_tile_cuts_evenly():
    """A length just over one tile is cut in two near-halves sharing about the overlap, with as many tiles as the
    full tile needs; the tile never grows past its ceiling nor falls below twice the overlap."""
    from srddpm.inference import fit_tile, _tile_spans
    assert fit_tile(250, 192, 16) == 133 and _tile_spans(250, 192, 16, 1) == [(0, 133), (117, 250)]
    assert fit_tile(100, 192, 16) == 192 and fit_tile(33, 32, 16) == 32
    for length in range(40, 700, 7):
        for tile, overlap, mult in ((192, 16, 1), (64, 8, 4), (48, 16, 2)):
            t = fit_tile(length, tile, overlap, mult)
            assert max(2 * overlap, overlap + mult) <= t <= tile
            assert len(tile_starts(length, t, overlap, mult)) == len(tile_starts(length, tile, overlap, mult))
            spans = _tile_spans(length, tile, overlap, mult)
            assert spans[0][0] == 0 and spans[-1][1] == length
            assert all(b0 <= a1 - overlap for (a0, a1), (b0, b1) in zip(spans, spans[1:]))
    assert tiled_pixels(250, 250, 192) < 1.2 * 250 * 250

def test_smooth_tiles_skip_the_network(model):
    """A tile with no detail anywhere is the bicubic enlargement without running the denoiser (the gate would keep
    bicubic on every pixel); the progress still reaches its total; a detailed tile runs as before."""
    from srddpm.inference import is_smooth
    flat = torch.full((1, 3, 10, 14), -0.2)
    calls = []
    h = model.denoiser.register_forward_hook(lambda *_: calls.append(1))
    try:
        seen = []
        out = sr_sample(model, flat, n_steps=4, generator=torch.Generator().manual_seed(0), show_progress=False,
                        keep_smooth=True, texture=1.0, on_progress=lambda d, n: seen.append((d, n)))
        assert not calls and torch.equal(out, bicubic_up(flat, 4)) and seen[-1] == (4, 4)
        busy = lr_img(10, 14)
        assert not is_smooth(busy) and is_smooth(flat)
        g = lambda: torch.Generator().manual_seed(0)
        gated = sr_sample(model, busy, n_steps=4, generator=g(), show_progress=False, keep_smooth=True)
        plain = sr_sample(model, busy, n_steps=4, generator=g(), show_progress=False)
        assert calls and torch.equal(gated, smooth_gate(plain, busy, 4))
    finally: h.remove()
