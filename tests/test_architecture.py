import json
import pytest
import torch
from srddpm.architecture import *
from srddpm.sr_data import bicubic_up


def _tiny(**kw):
    cfg = SRDDPMConfig.for_profile('ci', **kw)
    return SRDDPM(cfg)


def test_encoder_bad_arguments():
    with pytest.raises(ValueError, match='power of 2'): RRDBEncoder(3)
    with pytest.raises(ValueError, match='upsample'): RRDBEncoder(4, upsample='bilinear')


def test_encoder_starts_at_bicubic_and_pixelshuffle_shapes():
    torch.manual_seed(0)
    lr = torch.rand(1, 3, 5, 9) * 2 - 1
    for up in ('nearest', 'pixelshuffle'):
        enc = RRDBEncoder(8, nf=8, n_blocks=1, gc=4, upsample=up)
        torch.testing.assert_close(enc(lr), bicubic_up(lr, 8, clamp=False))


def test_config_validation_and_json_round_trip():
    for bad in [dict(scale=3), dict(T=0), dict(schedule='sqrt'), dict(prediction_type='score'),
                dict(residual_reference='lr'), dict(residual_scale=0.0)]:
        with pytest.raises(ValueError): SRDDPMConfig(**bad)
    with pytest.raises(ValueError, match='profile'): SRDDPMConfig.for_profile('huge')
    with pytest.raises(ValueError, match='unknown'): SRDDPMConfig.from_dict({'scale': 4, 'colour': 'red'})
    for ref, lam in RESIDUAL_SCALE.items():
        assert SRDDPMConfig(residual_reference=ref).residual_scale == lam
    cfg = SRDDPMConfig.for_profile('book', scale=8, prediction_type='v', residual_scale=3.0)
    back = SRDDPMConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg and back.denoiser.ch_mults == cfg.denoiser.ch_mults


def test_encoder_scale_must_match_config():
    with pytest.raises(ValueError, match='x2'): SRDDPM(SRDDPMConfig.for_profile('ci', scale=4), encoder=RRDBEncoder(2, nf=16, n_blocks=1, gc=8))


@pytest.mark.parametrize('pred', ['eps', 'x0', 'v'])
@pytest.mark.parametrize('ref', ['bicubic', 'encoder'])
def test_loss_and_sampling_for_every_choice(pred, ref):
    torch.manual_seed(0)
    m = _tiny(prediction_type=pred, residual_reference=ref, T=10)
    lr, hr = torch.rand(2, 3, 6, 5) * 2 - 1, torch.rand(2, 3, 24, 20) * 2 - 1
    loss = m.diffusion_loss(lr, hr, loss_type='mse', generator=torch.Generator().manual_seed(1))
    assert loss.ndim == 0 and torch.isfinite(loss)
    out = m.denoise_step(lr, hr, generator=torch.Generator().manual_seed(1))
    assert out['output'].shape == out['target'].shape == out['hr_pred'].shape == hr.shape
    for sampler in ('ddim', 'ddpm'):
        sr = m.sample(lr, sampler=sampler, n_steps=3 if sampler == 'ddim' else None, show_progress=False,
                      generator=torch.Generator().manual_seed(2))
        assert sr.shape == hr.shape and sr.abs().max() <= 1
    with pytest.raises(ValueError, match='sampler'): m.sample(lr, sampler='euler', show_progress=False)


def test_reference_choices():
    torch.manual_seed(0)
    lr = torch.rand(1, 3, 6, 6) * 2 - 1
    m = _tiny(residual_reference='bicubic')
    torch.testing.assert_close(m.reference(lr), bicubic_up(lr, 4))
    m = _tiny(residual_reference='encoder')
    for p in m.encoder.conv_last.parameters(): torch.nn.init.normal_(p, std=0.1)
    torch.testing.assert_close(m.reference(lr), m.encoder(lr).clamp(-1, 1))


def test_bad_inputs_name_the_shapes():
    m = _tiny()
    with pytest.raises(ValueError, match='lr must be'): m.prepare(torch.rand(3, 6, 6))
    with pytest.raises(ValueError, match='lr or cond'): m(torch.randn(1, 3, 24, 24), torch.tensor([1]))
    _, cond = m.prepare(torch.rand(1, 3, 6, 6))
    with pytest.raises(ValueError, match='cond'): m(torch.randn(1, 3, 20, 20), torch.tensor([1]), cond=cond)


def test_frozen_encoder_gets_no_gradient_and_stays_in_eval():
    m = _tiny()
    m.freeze_encoder()
    m.train()
    assert not m.encoder.training and m.denoiser.training
    lr, hr = torch.rand(2, 3, 6, 6) * 2 - 1, torch.rand(2, 3, 24, 24) * 2 - 1
    out = m.denoise_step(lr, hr)
    (out['output'].abs().mean() + (out['hr_pred'] - hr).abs().mean()).backward()
    assert all(p.grad is None for p in m.encoder.parameters())
    assert count_params(m, trainable_only=True) == count_params(m) - count_params(m.encoder)
    m.freeze_encoder(False)
    assert all(p.requires_grad for p in m.encoder.parameters())
    m.zero_grad(); m.diffusion_loss(lr, hr).backward()
    # unfrozen and with the encoder as reference, the loss reaches the encoder through ref and cond
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.encoder.parameters())


def test_train_l1_reduces_loss_on_one_batch():
    torch.manual_seed(0)
    hr = torch.rand(4, 3, 16, 16) * 2 - 1
    from srddpm.sr_data import make_lr
    pairs = [(make_lr(h, 4), h) for h in hr]
    enc = RRDBEncoder(4, nf=8, n_blocks=1, gc=4)
    hist = train_l1(enc, pairs, n_steps=40, batch_size=4, lr=2e-3, show_progress=False, baseline=lambda x: bicubic_up(x, 4))
    assert hist['loss'][-1] < hist['loss'][0] and hist['loss'][-1] < hist['baseline'][-1]
    assert hist['loss'][0] == pytest.approx(hist['baseline'][0])   # the encoder starts as bicubic
