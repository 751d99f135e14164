"Edge cases and contracts of srddpm.diffusion that the chapter's story does not show (fast, CPU)."
import math
import pytest
import torch
import torch.nn as nn
from scipy import stats
from srddpm.diffusion import *
from srddpm.data import eight_gaussian_means, EIGHT_GAUSSIANS_STD

@pytest.fixture(scope='module')
def lin(): return NoiseSchedule.make('linear', 100)

def test_schedule_validation():
    with pytest.raises(ValueError): linear_beta_schedule(0)
    with pytest.raises(ValueError): linear_beta_schedule(10, beta_start=0.5, beta_end=0.1)
    with pytest.raises(ValueError): cosine_beta_schedule(10, max_beta=1.0)
    with pytest.raises(ValueError): NoiseSchedule(torch.tensor([0.1, 1.0]))
    with pytest.raises(ValueError): NoiseSchedule(torch.tensor([]))
    with pytest.raises(ValueError): NoiseSchedule.make('quadratic', 10)
    for T in (1, 2, 10, 1000):
        for kind in ('linear', 'cosine'):
            s = NoiseSchedule.make(kind, T)
            assert s.T == T and s.betas.dtype == torch.float64 and s.beta_tilde[0] == 0
            assert ((s.betas > 0) & (s.betas < 1)).all()

def test_linear_default_is_ho_at_1000_and_rescaled_otherwise():
    b = linear_beta_schedule(1000)
    assert math.isclose(b[0].item(), 1e-4) and math.isclose(b[-1].item(), 0.02)
    b100 = linear_beta_schedule(100)
    assert math.isclose(b100[0].item(), 1e-3) and math.isclose(b100[-1].item(), 0.2)
    explicit = linear_beta_schedule(100, 1e-4, 0.02)
    assert math.isclose(explicit[-1].item(), 0.02)

def test_broadcasting_dtype_and_shapes(lin):
    for shape in [(5, 2), (5, 3, 7, 9), (5, 1, 4, 4, 4)]:
        for dtype in (torch.float32, torch.float64):
            x0 = torch.randn(shape, dtype=dtype); eps = torch.randn_like(x0); t = torch.randint(0, 100, (5,))
            x_t = lin.q_sample(x0, t, eps)
            assert x_t.shape == x0.shape and x_t.dtype == dtype
            m, v = lin.posterior(x0, x_t, t)
            assert m.shape == x0.shape and m.dtype == dtype and v.dtype == dtype
            for p in ('eps', 'x0', 'v'):
                assert lin.predict_x0(x_t, t, x0, p).dtype == dtype
                assert lin.predict_eps(x_t, t, x0, p).shape == x0.shape
    # an integer t means the same step for the whole batch
    x0 = torch.randn(4, 3); eps = torch.randn_like(x0)
    assert torch.allclose(lin.q_sample(x0, 7, eps), lin.q_sample(x0, torch.full((4,), 7), eps))

def test_bad_t_and_prediction_type(lin):
    x = torch.randn(3, 2)
    with pytest.raises(IndexError): lin.q_sample(x, torch.tensor([0, 1, 100]))
    with pytest.raises(IndexError): lin.q_sample(x, -1)
    with pytest.raises(ValueError): lin.q_sample(x, torch.tensor([0, 1]))
    with pytest.raises(ValueError): lin.predict_x0(x, 3, x, 'score')
    with pytest.raises(ValueError): DDPMScheduler(lin, prediction_type='score')
    with pytest.raises(ValueError): DDPMScheduler(lin, variance='learned')
    with pytest.raises(ValueError): DDIMScheduler(lin, eta=1.5)
    with pytest.raises(ValueError): DDIMScheduler(lin, clip_x0=0)

def test_timesteps():
    assert spaced_timesteps(1000, 1000).tolist() == list(range(999, -1, -1))
    for n in (1, 2, 3, 7, 20, 50, 99, 100):
        ts = spaced_timesteps(100, n)
        assert len(ts) == n and len(set(ts.tolist())) == n and ts[0] == 99
        assert (ts.diff() < 0).all() and (n == 1 or ts[-1] == 0)
    with pytest.raises(ValueError): spaced_timesteps(100, 0)
    with pytest.raises(ValueError): spaced_timesteps(100, 101)

def test_step_rejects_foreign_timestep(lin):
    s = DDIMScheduler(lin).set_timesteps(10)
    x = torch.randn(2, 2)
    with pytest.raises(ValueError): s.step(x, 50, x)   # 50 is not among the 10 timesteps

def test_sample_shapes_trajectory_and_single_step(lin):
    model = gaussian_optimal_model(lin, 0.5, 2.0)
    x, traj = sample(model, (8, 3, 5, 5), DDIMScheduler(lin), n_steps=7, return_trajectory=True, show_progress=False)
    assert x.shape == (8, 3, 5, 5) and len(traj) == 8 and torch.equal(traj[-1], x.cpu())
    # one DDIM step from t=T-1 returns x0_hat = E[x0 | x_T] directly
    x_T = torch.randn(4, 2)
    x1 = sample(model, (4, 2), DDIMScheduler(lin), n_steps=1, x_T=x_T, show_progress=False)
    assert torch.allclose(x1, lin.predict_x0(x_T, lin.T - 1, model(x_T, torch.full((4,), lin.T - 1)), 'eps'))

def test_clip_x0(lin):
    model = lambda x, t: torch.zeros_like(x)  # eps = 0 -> x0_hat = x_t / sqrt(alpha_bar): huge at t = T-1
    x_T = torch.full((3, 2), 3.0)
    out = DDIMScheduler(lin, clip_x0=1.0).set_timesteps(1).step(model(x_T, None), lin.T - 1, x_T)
    assert out.abs().max() <= 1.0 + 1e-6

def test_sample_passes_conditioning_and_restores_train_mode(lin):
    class CondModel(nn.Module):
        def __init__(self):
            super().__init__(); self.lin = nn.Linear(2, 2); self.seen = []
        def forward(self, x, t, lowres=None, scale=1.0):
            assert t.dtype == torch.long and t.shape == (x.shape[0],)
            self.seen.append((lowres.shape, scale, self.training))
            return self.lin(x) * 0 + lowres * scale
    m = CondModel().train()
    sample(m, (4, 2), DDIMScheduler(lin), n_steps=3, cond={'lowres': torch.ones(4, 2), 'scale': 0.5}, show_progress=False)
    assert m.training and all(s == (torch.Size([4, 2]), 0.5, False) for s in m.seen)

def test_diffusion_loss_targets_and_errors(lin):
    x0 = torch.randn(6, 1, 4, 4)
    for p in ('eps', 'x0', 'v'):
        # a model that returns the exact target has zero loss: reconstruct it from x_t via the same noise
        g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
        t = torch.randint(0, lin.T, (6,), generator=g2); noise = torch.randn(x0.shape, generator=g2)
        exact = lambda x_t, tt: lin.target(x0, noise, tt, p)
        assert diffusion_loss(exact, x0, lin, p, generator=g1).item() < 1e-10
    with pytest.raises(ValueError): diffusion_loss(lambda x, t: x[:, :1], torch.randn(2, 3), lin)
    with pytest.raises(ValueError): diffusion_loss(lambda x, t: x, x0, lin, loss_type='huber')
    l1 = diffusion_loss(lambda x, t: torch.zeros_like(x), x0, lin, loss_type='l1')
    assert 0.5 < l1.item() < 1.1   # E|eps| = sqrt(2/pi) ~ 0.8

class TinyConv(nn.Module):
    def __init__(self, cond_channels=0):
        super().__init__(); self.conv = nn.Conv2d(1 + cond_channels, 1, 3, padding=1); self.emb = nn.Embedding(100, 1)
    def forward(self, x, t, lowres=None):
        h = x if lowres is None else torch.cat([x, lowres], 1)
        return self.conv(h) + self.emb(t)[:, :, None, None]

def test_train_diffusion_images_with_conditioning_and_ema(lin):
    x = torch.randn(40, 1, 8, 8); lowres = torch.randn(40, 1, 8, 8)
    m = TinyConv(cond_channels=1)
    h = train_diffusion(m, x, lin, n_steps=12, batch_size=16, cond={'lowres': lowres}, ema_decay=0.9,
                        lr_decay='cosine', warmup_steps=3, show_progress=False)
    assert len(h['loss']) == 12 and all(math.isfinite(v) for v in h['loss']) and isinstance(h['ema'], nn.Module)
    assert h['lr'][0] < h['lr'][2] and h['lr'][-1] < h['lr'][3]
    assert not any(p.requires_grad for p in h['ema'].parameters())
    assert not m.training
    with pytest.raises(ValueError): train_diffusion(m, x, lin, 2, cond={'lowres': lowres[:5]}, show_progress=False)
    with pytest.raises(ValueError): train_diffusion(m, torch.randn(0, 1, 8, 8), lin, 2, show_progress=False)
    with pytest.raises(ValueError): train_diffusion(m, x, lin, 0, show_progress=False)

def test_train_diffusion_from_a_sampler_and_reproducible(lin):
    def draw(batch_size, g): return torch.randn(batch_size, 1, 8, 8, generator=g), {'lowres': torch.zeros(batch_size, 1, 8, 8)}
    runs = []
    for _ in range(2):
        torch.manual_seed(0); m = TinyConv(cond_channels=1)
        runs.append(train_diffusion(m, draw, lin, n_steps=5, batch_size=4, show_progress=False)['loss'])
    assert runs[0] == runs[1]

def test_train_diffusion_reduces_loss_on_gaussian_data(lin):
    torch.manual_seed(0)
    data = 1.0 + 0.5 * torch.randn(2000, 2)
    m = MLPDenoiser(2, hidden=32, n_blocks=1)
    h = train_diffusion(m, data, lin, n_steps=150, batch_size=128, lr=3e-3, show_progress=False)
    assert sum(h['loss'][-50:]) / 50 < 0.8 * sum(h['loss'][:20]) / 20

def test_ema_average():
    m = nn.Linear(1, 1, bias=False); nn.init.zeros_(m.weight)
    ema = EMA(m, decay=0.5)
    with torch.no_grad(): m.weight.fill_(1.0)
    ema.update(m); ema.update(m)
    assert math.isclose(ema.model.weight.item(), 0.75)
    with pytest.raises(ValueError): EMA(m, decay=1.0)

def test_energy_distance():
    g = torch.Generator().manual_seed(0)
    u, v = torch.randn(50, 1, generator=g), torch.randn(60, 1, generator=g) + 1
    assert math.isclose(energy_distance(u, v, unbiased=False), stats.energy_distance(u[:, 0], v[:, 0]) ** 2, rel_tol=1e-6)
    assert energy_distance(u, u, unbiased=False) == pytest.approx(0, abs=1e-12)
    assert energy_distance(torch.randn(10, 1, 4, 4), torch.randn(12, 16)) > -1   # any shape, flattened
    with pytest.raises(ValueError): energy_distance(torch.randn(5, 2), torch.randn(5, 3))
    with pytest.raises(ValueError): energy_distance(torch.randn(1, 2), torch.randn(5, 2))

def test_gaussian_kl_properties():
    assert gaussian_kl(0.0, 1.0, 0.0, 1.0).item() == 0
    assert gaussian_kl(0.3, 0.5, -0.1, 2.0).item() > 0
    m = torch.randn(5); v = torch.rand(5) + 0.1
    assert gaussian_kl(m, v, m, v).abs().max() < 1e-6

def test_mode_coverage_rules():
    means, std = eight_gaussian_means(), EIGHT_GAUSSIANS_STD
    c = mode_coverage(means.repeat(10, 1), means, std)
    assert c['modes_hit'] == 8 and c['high_quality_fraction'] == 1 and c['per_mode_counts'].tolist() == [10] * 8
    far = torch.full((4, 2), 100.0)
    c = mode_coverage(torch.cat([means[:1].repeat(4, 1), far]), means, std)
    assert c['modes_hit'] == 1 and c['high_quality_fraction'] == 0.5
    # a mode with fewer than min_fraction * n / K samples is not hit
    x = torch.cat([means[:1].repeat(79, 1), means[1:2]])          # n=80, fair share 10, threshold 2
    assert mode_coverage(x, means, std)['modes_hit'] == 1
    with pytest.raises(ValueError): mode_coverage(torch.randn(5, 3), means, std)
    with pytest.raises(ValueError): mode_coverage(torch.zeros(0, 2), means, std)

def test_mixture_optimal_model(lin):
    "One component is eq. (13); the output is E[eps|x_t] (checked against a fine 1-D quadrature); bad input is refused."
    x_t, t = torch.randn(50, 1, dtype=torch.float64), torch.randint(0, 100, (50,))
    one = gaussian_mixture_optimal_model(lin, [[0.5]], 0.3)
    assert torch.allclose(one(x_t, t), gaussian_optimal_model(lin, 0.5, 0.3)(x_t, t), atol=1e-12)
    mix = gaussian_mixture_optimal_model(lin, [[-1.0], [2.0]], 0.1, weights=[0.3, 0.7])
    ab = lin.alpha_bar[40].item()
    x0 = torch.linspace(-4, 5, 200_001, dtype=torch.float64)
    prior = 0.3 * torch.exp(-(x0 + 1) ** 2 / 0.2) + 0.7 * torch.exp(-(x0 - 2) ** 2 / 0.2)
    for xt in [-1.0, 0.3, 1.7]:
        w = prior * torch.exp(-(xt - math.sqrt(ab) * x0) ** 2 / (2 * (1 - ab)))
        x0_mean = (w * x0).sum() / w.sum()                                   # E[x0 | x_t] by quadrature
        eps_ref = (xt - math.sqrt(ab) * x0_mean) / math.sqrt(1 - ab)
        got = mix(torch.tensor([[xt]], dtype=torch.float64), torch.tensor([40]))
        assert abs(got.item() - eps_ref.item()) < 1e-6, (xt, got.item(), eps_ref.item())
    x0_pred = gaussian_mixture_optimal_model(lin, [[-1.0], [2.0]], 0.1, prediction_type='x0')
    assert torch.allclose(lin.predict_eps(x_t, t, x0_pred(x_t, t), 'x0'),
                          gaussian_mixture_optimal_model(lin, [[-1.0], [2.0]], 0.1)(x_t, t), atol=1e-9)
    with pytest.raises(ValueError): gaussian_mixture_optimal_model(lin, [0.0, 1.0], 0.1)
    with pytest.raises(ValueError): gaussian_mixture_optimal_model(lin, [[0.0]], 0.1, weights=[0.5])
    with pytest.raises(ValueError): gaussian_mixture_optimal_model(lin, [[0.0]], 0.1, prediction_type='score')
    with pytest.raises(ValueError): one(torch.randn(4, 2, dtype=torch.float64), torch.zeros(4, dtype=torch.long))

def test_train_diffusion_callback_steps_and_same_training(lin):
    "The callback sees steps 0, every, 2 every, ...; it neither changes the training nor counts as training time."
    data = torch.randn(500, 2)
    def run(**kw):
        torch.manual_seed(0); m = MLPDenoiser(2, hidden=16, n_blocks=1)
        return train_diffusion(m, data, lin, n_steps=10, batch_size=32, show_progress=False, **kw)['loss']
    calls = []
    with_cb = run(callback=lambda step, model: calls.append((step, model.training)), every=4)
    assert calls == [(0, True), (4, True), (8, True)] and with_cb == run()


def test_spaced_timesteps_from_a_start():
    "A shallow chain: n steps from `start` down to 0, both ends included; the default start is T-1."
    from srddpm.diffusion import spaced_timesteps, DDIMScheduler, NoiseSchedule
    assert torch.equal(spaced_timesteps(100, 5), spaced_timesteps(100, 5, 99))
    assert spaced_timesteps(100, 3, 50).tolist() == [50, 25, 0]
    assert spaced_timesteps(100, 1, 40).tolist() == [40]
    assert spaced_timesteps(100, 41, 40).tolist() == list(range(40, -1, -1))
    for bad in [dict(n=3, start=100), dict(n=3, start=-1), dict(n=42, start=40), dict(n=0, start=40)]:
        with pytest.raises(ValueError): spaced_timesteps(100, **bad)
    s = DDIMScheduler(NoiseSchedule.make('cosine', 100)).set_timesteps(None, start=9)
    assert s.timesteps.tolist() == list(range(9, -1, -1)) and s.num_inference_steps == 10

def test_chain_moments_from_a_shallow_start():
    """chain_moments with the default start is the chain from N(0, 1); from the shallow start N(0, 1 - ᾱ_{t0}) with
    every step it approaches the flow's moments (1 - ᾱ)/V_t σ² (chapter 24, eq. 4), and Monte Carlo agrees."""
    from srddpm.diffusion import (chain_moments, DDIMScheduler, NoiseSchedule, gaussian_optimal_model, sample)
    lin = NoiseSchedule.make('linear', 1000)
    s = DDIMScheduler(lin).set_timesteps(20)
    assert chain_moments(s, 1.0, 0.25) == chain_moments(s, 1.0, 0.25, start=(0.0, 1.0))
    t0 = 300
    ab = float(lin.alpha_bar[t0])
    s.set_timesteps(None, start=t0)
    m, v = chain_moments(s, 0.0, 0.25, start=(0.0, 1 - ab))
    assert m == 0 and abs(v / (0.25 * (1 - ab) / (ab * 0.25 + 1 - ab)) - 1) < 0.015
    s.set_timesteps(10, start=t0)
    m, v = chain_moments(s, 0.5, 0.25, start=(0.0, 1 - ab))
    n = 40_000
    x = math.sqrt(1 - ab) * torch.randn(n, 1, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    out = sample(gaussian_optimal_model(lin, 0.5, 0.25), x.shape, s, x_T=x, dtype=torch.float64,
                 show_progress=False)
    assert abs(out.mean().item() - m) < 5 * math.sqrt(v / n)
    assert abs(out.var().item() - v) < 5 * v * math.sqrt(2 / (n - 1))
