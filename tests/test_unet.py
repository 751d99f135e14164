"Edge cases of srddpm.unet that the chapter's story does not show: bad inputs, configurations, dtypes, padding."
import json
import pytest
import torch
from srddpm.unet import (UNet, timestep_embedding, norm_groups, count_parameters, AttentionBlock,
                         nearest_neighbour_distance, compare_samplers, sampler_table,
                         label_dropout_sampler, ClassifierFreeGuidance)
from srddpm.diffusion import NoiseSchedule, sample, DDIMScheduler, diffusion_loss, train_diffusion

def tiny(**kw):
    cfg = dict(base_ch=8, ch_mults=(1, 2), num_res_blocks=1, mid_attn=False)
    cfg.update(kw)
    return UNet(**cfg)

def randomized(net, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            if not p.any(): p.copy_(0.05 * torch.randn(p.shape, generator=g))
    return net.eval()

def test_embedding_bad_dim_and_shapes():
    for d in (0, 1, 7): 
        with pytest.raises(ValueError, match='even'): timestep_embedding(torch.arange(3), d)
    with pytest.raises(ValueError, match='1-D'): timestep_embedding(torch.zeros(2, 2), 8)
    assert timestep_embedding(5, 8).shape == (1, 8)
    e = timestep_embedding(torch.tensor([0]), 6)
    assert torch.equal(e, torch.tensor([[0., 0, 0, 1, 1, 1]]))   # sin 0 = 0, cos 0 = 1

def test_embedding_is_the_mlp_denoisers_features():
    "One sinusoidal embedding: the U-Net's and MLPDenoiser's features are the same numbers."
    import math
    from srddpm.diffusion import _time_features
    t = torch.tensor([0, 1, 17, 999])
    assert torch.equal(timestep_embedding(t, 32), _time_features(t, 32))
    omega = 10_000.0 ** (-torch.arange(16, dtype=torch.float64) / 16)
    angle = t.double()[:, None] * omega                  # float64 angles: exact to float32
    want = torch.cat([angle.sin(), angle.cos()], 1).float()
    assert torch.allclose(timestep_embedding(t, 32), want, atol=1e-7, rtol=0)
    assert math.isclose(timestep_embedding(999, 2)[0, 0].item(), math.sin(999), abs_tol=1e-7)

def test_embedding_float_steps_interpolate():
    "Non-integer steps are allowed (continuous time) and lie between their neighbours."
    e = timestep_embedding(torch.tensor([10.0, 10.5, 11.0]), 32)
    assert (e[1] - (e[0] + e[2]) / 2).abs().max() < 0.2

@pytest.mark.parametrize('kw, match', [
    (dict(base_ch=7), 'even'), (dict(ch_mults=()), 'ch_mults'), (dict(num_res_blocks=0), 'num_res_blocks'),
    (dict(attn_resolutions=(16,)), 'downsampling factors'), (dict(cond_ch=-1), 'cond_ch'), (dict(dropout=1.0), 'dropout'),
    (dict(in_ch=0), 'in_ch')])
def test_bad_config(kw, match):
    with pytest.raises(ValueError, match=match): tiny(**kw)

def test_bad_inputs_name_shapes():
    net = tiny(in_ch=2, cond_ch=3)
    x, t, c = torch.randn(2, 2, 8, 8), torch.tensor([1, 2]), torch.randn(2, 3, 8, 8)
    with pytest.raises(ValueError, match=r'\(2, 3, 4, 4\)'): net(x, t, torch.randn(2, 3, 4, 4))     # wrong size
    with pytest.raises(ValueError, match=r'cond_ch=3'): net(x, t, torch.randn(2, 1, 8, 8))          # wrong channels
    with pytest.raises(ValueError, match=r'\(1, 3, 8, 8\)'): net(x, t, torch.randn(1, 3, 8, 8))     # wrong batch
    with pytest.raises(ValueError, match='pass cond'): net(x, t)
    with pytest.raises(ValueError, match='in_ch=2'): net(torch.randn(2, 1, 8, 8), t, c)
    with pytest.raises(ValueError, match='in_ch=2'): net(torch.randn(2, 8, 8), t, c)
    with pytest.raises(ValueError, match=r'\(2,\)'): net(x, torch.tensor([1, 2, 3]), c)
    with pytest.raises(ValueError, match='cond_ch=0'): tiny()(torch.randn(1, 1, 8, 8), 3, torch.randn(1, 1, 8, 8))

def test_scalar_t_broadcasts():
    net = randomized(tiny())
    x = torch.randn(3, 1, 8, 8)
    with torch.no_grad(): assert torch.allclose(net(x, 7), net(x, torch.full((3,), 7)))

@pytest.mark.parametrize('size', [(1, 1), (2, 3), (7, 7), (15, 17), (33, 31), (16, 40)])
def test_odd_sizes(size):
    net = randomized(UNet(1, 2, base_ch=8, ch_mults=(1, 2, 2), num_res_blocks=1, attn_resolutions=(4,), cond_ch=1))
    with torch.no_grad(): y = net(torch.randn(2, 1, *size), torch.tensor([0, 999]), torch.randn(2, 1, *size))
    assert y.shape == (2, 2, *size) and torch.isfinite(y).all()

def test_padding_keeps_the_top_left_region_local():
    "Padding is on the right/bottom only: far from that border the output at 15x15 equals the one at 16x16 up to GroupNorm statistics."
    net = randomized(tiny())
    x = torch.randn(1, 1, 16, 16)
    with torch.no_grad():
        a, b = net(x[..., :15, :15], 3), net(x, 3)
    assert a.shape[-2:] == (15, 15)
    assert (a[..., :6, :6] - b[..., :6, :6]).abs().max() < 0.5 * b.abs().max()

def test_multi_head_and_config_roundtrip():
    net = UNet(3, base_ch=16, ch_mults=(1, 2), num_res_blocks=1, attn_resolutions=(1, 2), num_heads=4, cond_ch=2)
    cfg = json.loads(json.dumps(net.config))
    twin = UNet(**cfg)
    twin.load_state_dict(net.state_dict())
    assert count_parameters(twin) == count_parameters(net)
    with pytest.raises(ValueError, match='heads'): AttentionBlock(10, 4)

def test_dtype_and_dropout_modes():
    net = randomized(tiny(dropout=0.5)).double()
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    y = net(x, torch.tensor([1, 2]))
    assert y.dtype == torch.float64
    net.train()
    torch.manual_seed(0); a = net(x, torch.tensor([1, 2]))
    torch.manual_seed(1); b = net(x, torch.tensor([1, 2]))
    assert not torch.allclose(a, b)              # dropout active in training
    net.eval()
    assert torch.equal(net(x, torch.tensor([1, 2])), net(x, torch.tensor([1, 2])))

def test_norm_groups_divides():
    for c in range(1, 300):
        g = norm_groups(c)
        assert c % g == 0 and 1 <= g <= 32 and (c < 8 or c // g >= 4 or g == 1)

def test_works_with_diffusion_loss_and_sample_with_cond():
    "The UNet plugs into srddpm.diffusion: cond is passed as the keyword `cond`."
    s = NoiseSchedule.make('linear', 20)
    net = tiny(cond_ch=1)
    x0, c = torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8)
    loss = diffusion_loss(net, x0, s, cond=c)
    loss.backward()
    assert torch.isfinite(loss) and net.conv_out.weight.grad.abs().sum() > 0
    out = sample(net, (4, 1, 8, 8), DDIMScheduler(s), n_steps=5, cond={'cond': c}, show_progress=False)
    assert out.shape == (4, 1, 8, 8)

def test_nearest_neighbour_distance():
    ref = torch.tensor([[0., 0], [3, 4]])
    d = nearest_neighbour_distance(torch.tensor([[0., 1], [3, 4], [6, 8]]), ref, chunk=2)
    assert torch.allclose(d, torch.tensor([1., 0, 5], dtype=torch.float64))
    with pytest.raises(ValueError, match='differ'): nearest_neighbour_distance(torch.zeros(2, 3), ref)

def test_compare_samplers_rows_and_table():
    s = NoiseSchedule.make('linear', 10)
    net = randomized(tiny())
    rows = compare_samplers(net, s, (2, 1, 8, 8), runs=(('DDPM', None), ('DDIM', 5)), show_progress=False)
    assert [(r['sampler'], r['steps']) for r in rows] == [('DDPM', 10), ('DDIM', 5)]
    assert rows[0]['ratio'] == 1.0 and all(r['samples'].shape == (2, 1, 8, 8) for r in rows)
    assert 'DDIM' in sampler_table(rows)
    with pytest.raises(ValueError, match='DDPM'): compare_samplers(net, s, (1, 1, 8, 8), runs=(('Euler', 3),), show_progress=False)

def test_label_inputs_are_checked():
    net = tiny(num_classes=3)
    x = torch.randn(2, 1, 8, 8)
    with pytest.raises(ValueError, match=r'0\.\.2 \(and 3, the null label\)'): net(x, 1, label=torch.tensor([0, 4]))
    with pytest.raises(ValueError, match=r'0\.\.2'): net(x, 1, label=torch.tensor([-1, 0]))
    with pytest.raises(ValueError, match=r'\(2,\)'): net(x, 1, label=torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match='integer'): net(x, 1, label=torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match='num_classes=0'): tiny()(x, 1, label=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match='num_classes'): tiny(num_classes=-1)
    assert net(x, 1, label=2).shape == (2, 1, 8, 8)               # a scalar label broadcasts

def test_label_vectors_and_config_roundtrip():
    net = randomized(tiny(num_classes=3))
    assert count_parameters(net) - count_parameters(tiny()) == 4 * 4 * 8    # (K + 1) x temb_dim
    twin = UNet(**json.loads(json.dumps(net.config)))
    twin.load_state_dict(net.state_dict())
    x = torch.randn(3, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(twin(x, 5, label=torch.tensor([0, 1, 3])), net(x, 5, label=torch.tensor([0, 1, 3])))
        assert torch.equal(net(x, 5), net(x, 5, label=3))                 # None is the null label
        assert not torch.allclose(net(x, 5, label=0), net(x, 5, label=1))
    assert 'label_embed' not in ''.join(tiny().state_dict())              # unlabelled nets unchanged

def test_label_dropout_sampler():
    x0, y = torch.arange(50.)[:, None], torch.arange(50) % 5
    with pytest.raises(ValueError, match='labels'): label_dropout_sampler(x0, y[:3], 0.1, 5)
    with pytest.raises(ValueError, match='p_uncond'): label_dropout_sampler(x0, y, 1.5, 5)
    g = torch.Generator().manual_seed(0)
    xb, c = label_dropout_sampler(x0, y, 0.0, 5)(64, g)
    assert torch.equal(c['label'], y[xb[:, 0].long()])
    _, c = label_dropout_sampler(x0, y, 1.0, 5)(64, g)
    assert (c['label'] == 5).all()

def test_guidance_weights_and_training_with_labels():
    s = NoiseSchedule.make('linear', 20)
    net = tiny(num_classes=2)
    data = label_dropout_sampler(torch.randn(16, 1, 8, 8), torch.arange(16) % 2, 0.5, 2)
    hist = train_diffusion(net, data, s, n_steps=3, batch_size=4, show_progress=False)
    assert len(hist['loss']) == 3 and net.label_embed.weight.grad is not None
    randomized(net)
    with pytest.raises(ValueError, match='num_classes'): ClassifierFreeGuidance(tiny())
    g = ClassifierFreeGuidance(net)
    x, lab = torch.randn(3, 1, 8, 8), torch.tensor([0, 1, 0])
    with torch.no_grad():
        c, u = net(x, 4, label=lab), net(x, 4)
        assert torch.equal(g(x, 4, lab, w=1), c) and torch.equal(g(x, 4, lab, w=0), u)
        assert torch.allclose(g(x, torch.tensor([4, 4, 4]), lab, w=2.5), u + 2.5 * (c - u), atol=1e-6)
        assert torch.allclose(g(x, 4, 1, w=2), g(x, 4, torch.tensor([1, 1, 1]), w=2))
    out = sample(g, (3, 1, 8, 8), DDIMScheduler(s), n_steps=4, cond={'label': lab, 'w': 3.0},
                 show_progress=False)
    assert out.shape == (3, 1, 8, 8) and torch.isfinite(out).all()

def test_compare_samplers_passes_labels():
    s = NoiseSchedule.make('linear', 10)
    net = randomized(tiny(num_classes=2))
    lab = torch.tensor([0, 1, 1])
    rows = compare_samplers(net, s, (3, 1, 8, 8), runs=(('DDIM', 5),), cond={'label': lab},
                            show_progress=False)
    want = sample(net, (3, 1, 8, 8), DDIMScheduler(s, clip_x0=1.0), n_steps=5, cond={'label': lab},
                  generator=torch.Generator().manual_seed(0), show_progress=False)
    assert torch.equal(rows[0]['samples'], want)
