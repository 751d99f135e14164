"""srddpm.recipe: configuration files, the exported model format, a tiny staged run, resume, evaluation table.
Training runs on the device `SRDDPM_DEVICE` names; a resumed run equals an uninterrupted one bit for bit on the CPU
and within a stated tolerance on CUDA (whose kernels may sum in another order from run to run)."""
import json, os
from pathlib import Path
import numpy as np
import pytest
import torch
from srddpm.recipe import *
from srddpm.training import CheckpointError, TrainConfig
from srddpm.architecture import SRDDPM, SRDDPMConfig

ROOT = Path(__file__).resolve().parents[1]
ON_CPU = (os.environ.get('SRDDPM_DEVICE') or 'cpu').startswith('cpu')

def same_weights(a, b, exact=ON_CPU):
    "Equal state dicts: bit for bit on the CPU (or when `exact`), within rtol 1e-4, atol 1e-5 otherwise."
    a, b = a.state_dict(), b.state_dict()
    if list(a) != list(b): return False
    if exact: return all(torch.equal(a[k].cpu(), b[k].cpu()) for k in a)
    return all(torch.allclose(a[k].cpu().double(), b[k].cpu().double(), rtol=1e-4, atol=1e-5) for k in a)

def tiny_cfg(enc=3, diff=3, adv=0):
    cfg = RecipeConfig.for_profile('ci')
    cfg.data.patch_size, cfg.data.length = 16, 64
    cfg.adversarial.disc_layers, cfg.adversarial.disc_base_ch = 1, 8     # a PatchGAN small enough for 16-px patches
    for name, n in zip(STAGE_NAMES, (enc, diff, adv)):
        cfg.stages[name] = TrainConfig(n_steps=n, batch_size=2, lr=1e-3, log_every=1, checkpoint_every=1, ema_decay=0.9) if n else None
    return cfg

def tiny_images():
    rng = np.random.default_rng(0)
    return {f'im{k}': rng.integers(0, 256, (32, 40, 3), dtype=np.uint8) for k in range(2)}

@pytest.mark.parametrize('profile', ['ci', 'book', 'full'])
def test_profiles_round_trip(profile):
    c = RecipeConfig.for_profile(profile)
    d = c.to_dict()
    assert RecipeConfig.from_dict(d).to_dict() == d
    json.dumps(d)

def test_shipped_config_files_load():
    small = RecipeConfig.from_file('srddpm_x4_small')                  # by stem, from the package
    assert small.scale == 4 and small.data.div2k_root is None and small.stage('adversarial') is None
    full = RecipeConfig.from_file(ROOT / 'srddpm' / 'configs' / 'div2k_x4_full.toml')   # by path
    assert full.data.patch_size == 160 and full.data.batch_size == 64 and full.stage('diffusion').amp == 'bf16'
    assert full.stage('diffusion').n_steps >= 100_000

@pytest.mark.parametrize('text, word', [('[data]\npatchsize = 3\n', 'patchsize'), ('[stages.encdoer]\nn_steps = 1\n', 'encdoer'),
                                        ('[stages.encoder]\nlearning_rate = 1\n', 'learning_rate'), ('colour = 1\n', 'colour'),
                                        ('[model]\nprediction = "x0"\n', 'prediction')])
def test_unknown_keys_are_named(tmp_path, text, word):
    f = tmp_path / 'c.toml'; f.write_text(text)
    with pytest.raises(ValueError, match=word): RecipeConfig.from_file(f)

def test_config_names(tmp_path, monkeypatch):
    from srddpm.recipe import config_file, shipped_configs
    assert set(shipped_configs()) == {'srddpm_x4_small', 'div2k_x4_full'}
    assert config_file('srddpm_x4_small') == config_file('srddpm_x4_small.toml') == shipped_configs()['srddpm_x4_small']
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'srddpm_x4_small.toml').write_text('scale = 4\n')         # a file of that name wins over the stem
    assert config_file('srddpm_x4_small.toml') == Path('srddpm_x4_small.toml')
    with pytest.raises(FileNotFoundError, match='srddpm_x4_small, div2k_x4_full|div2k_x4_full, srddpm_x4_small'):
        config_file('srddpm_x4_smal')
    with pytest.raises(FileNotFoundError): config_file('elsewhere/srddpm_x4_small')   # a path is only a path

def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError): RecipeConfig.from_file(tmp_path / 'none.toml')
    f = tmp_path / 'bad.toml'; f.write_text('scale = = 4')
    with pytest.raises(ValueError, match='TOML'): RecipeConfig.from_file(f)
    f.write_text('scale = 3')
    with pytest.raises(ValueError, match='scale'): RecipeConfig.from_file(f)
    f.write_text('profile = "huge"')
    with pytest.raises(ValueError, match='profile'): RecipeConfig.from_file(f)

def test_override_keeps_preset(tmp_path):
    f = tmp_path / 'c.toml'; f.write_text('profile = "ci"\n[stages.diffusion]\nn_steps = 7\n[stages.encoder]\nn_steps = 0\n')
    c = RecipeConfig.from_file(f)
    ref = RecipeConfig.for_profile('ci')
    assert c.stage('diffusion').n_steps == 7 and c.stage('encoder') is None
    assert c.stage('diffusion').lr == ref.stage('diffusion').lr and c.data == ref.data

def test_save_load_and_refusals(tmp_path):
    m = SRDDPM(SRDDPMConfig.for_profile('ci'))
    save_srddpm(m, tmp_path / 'm')
    m2 = load_srddpm(tmp_path / 'm')
    assert same_weights(m, m2, exact=True)
    assert load_srddpm(tmp_path / 'm' / 'model.safetensors').config == m.config
    with pytest.raises(CheckpointError, match='missing'): load_srddpm(tmp_path / 'nothing')
    # truncated weights
    (tmp_path / 't').mkdir()
    (tmp_path / 't' / 'config.json').write_bytes((tmp_path / 'm' / 'config.json').read_bytes())
    (tmp_path / 't' / 'model.safetensors').write_bytes((tmp_path / 'm' / 'model.safetensors').read_bytes()[:-10])
    with pytest.raises(CheckpointError, match='truncated'): load_srddpm(tmp_path / 't')
    # weights of another config
    big = SRDDPM(SRDDPMConfig.for_profile('book')); save_srddpm(big, tmp_path / 'b')
    (tmp_path / 'm' / 'model.safetensors').write_bytes((tmp_path / 'b' / 'model.safetensors').read_bytes())
    meta = json.loads((tmp_path / 'm' / 'config.json').read_text()); meta.pop('bytes')
    (tmp_path / 'm' / 'config.json').write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match='do not fit'): load_srddpm(tmp_path / 'm')
    # a pickle is not a model folder
    (tmp_path / 'p').mkdir(); torch.save({'a': 1}, tmp_path / 'p' / 'model.safetensors')
    (tmp_path / 'p' / 'config.json').write_text('{not json')
    with pytest.raises(CheckpointError, match='JSON'): load_srddpm(tmp_path / 'p')

def test_staged_run_freezes_encoder_and_resumes(tmp_path):
    cfg = tiny_cfg(3, 3, 2)
    m = train_srddpm(cfg, tmp_path / 'run', show_progress=False, data=tiny_images())
    for k, n in enumerate(STAGE_NAMES):
        assert (tmp_path / 'run' / f'stage{k}_{n}' / 'done.json').is_file()
    assert set(stage_logs(tmp_path / 'run')) == set(STAGE_NAMES)
    recipe = json.loads((tmp_path / 'run' / 'recipe.json').read_text())
    assert recipe['world_size'] == 1 and recipe['global_batch'] == {n: 2 for n in STAGE_NAMES}
    done = json.loads((tmp_path / 'run' / 'stage1_diffusion' / 'done.json').read_text())
    assert done['step'] == 3 and done['global_batch'] == 2 and done['throughput']['steps'] == 2
    assert [r['rank'] for r in done['ranks']] == [0]
    # stage 1 and 2 never touched the encoder: it equals the stage-0 EMA weights
    from srddpm.training import read_checkpoint
    enc = read_checkpoint(tmp_path / 'run' / 'stage0_encoder', load_state=False)['ema']
    assert all(torch.equal(enc[k], v) for k, v in m.encoder.state_dict().items())
    # a finished run resumed: nothing retrained, the same final model
    m2 = train_srddpm(cfg, tmp_path / 'run', resume=True, show_progress=False, data=tiny_images())
    assert same_weights(m, m2, exact=True)
    with pytest.raises(FileExistsError, match='resume'): train_srddpm(cfg, tmp_path / 'run', show_progress=False, data=tiny_images())

def test_interrupted_stage_resumes_exactly(tmp_path):
    cfg = tiny_cfg(2, 4, 0)
    full = train_srddpm(cfg, tmp_path / 'a', show_progress=False, data=tiny_images())
    # run b: stop stage 1 after 2 steps (as if killed after its checkpoint at step 2), then resume
    short = tiny_cfg(2, 4, 0)
    import srddpm.recipe as R
    orig = R.Trainer.fit
    def fit_two(self, callback=None, show_progress=True):
        if self.cfg.n_steps == 4 and self.step == 0:
            def stop(tr, logs):
                if tr.step == 2: tr.save_checkpoint(); raise KeyboardInterrupt
            try: return orig(self, callback=stop, show_progress=show_progress)
            except KeyboardInterrupt: raise
        return orig(self, callback, show_progress)
    R.Trainer.fit = fit_two
    try:
        with pytest.raises(KeyboardInterrupt): train_srddpm(short, tmp_path / 'b', show_progress=False, data=tiny_images())
    finally: R.Trainer.fit = orig
    assert not (tmp_path / 'b' / 'stage1_diffusion' / 'done.json').exists()
    resumed = train_srddpm(short, tmp_path / 'b', resume=True, show_progress=False, data=tiny_images())
    assert same_weights(full, resumed)

def test_evaluate_methods_and_table():
    imgs = tiny_images()
    ident = {'bicubic': lambda lr: torch.nn.functional.interpolate(lr, scale_factor=4, mode='bicubic').clamp(-1, 1)}
    rows = evaluate_methods(ident, imgs, 4, lpips=False, verbose=False)
    assert len(rows) == 3 and rows[-1]['image'] == 'mean'
    assert rows[-1]['psnr_y'] == pytest.approx(np.mean([r['psnr_y'] for r in rows[:2]]))
    t = format_table(rows)
    assert t.count('\n') == 4 and 'PSNR-Y' in t and 'LPIPS' not in t
    assert format_table(rows, images=False).count('\n') == 2
    with pytest.raises(ValueError, match='multiple'): evaluate_methods(ident, {'odd': np.zeros((30, 30, 3), np.uint8)}, 4)
    with pytest.raises(ValueError, match='returned'): evaluate_methods({'bad': lambda lr: lr}, imgs, 4, verbose=False)


def test_standard_methods_with_the_texture_control():
    """standard_methods adds a shallow start per texture and the command line's defaults (texture UPSCALE_TEXTURE
    with the smooth gate); each is the service's upscale with those options."""
    from srddpm.inference import UPSCALE_TEXTURE, upscale, UPSCALE_OVERLAP
    torch.manual_seed(0)
    m = SRDDPM(SRDDPMConfig.for_profile('ci', T=10)).eval()
    with torch.no_grad():
        for p in m.denoiser.parameters(): p.add_(0.05 * torch.randn_like(p))
    methods = standard_methods(m, 4, steps=(5,), textures=(0.7, 0.2), defaults=True, tile=None)
    names = list(methods)
    assert 'SRDDPM texture 0.7+BP3' in names and 'SRDDPM texture 0.2+BP3' in names
    default = f'SRDDPM texture {UPSCALE_TEXTURE:g}, smooth kept+BP3'
    assert default in names
    lr = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(1)) * 2 - 1
    want = upscale(lr, 'srddpm', m, 4, tile=None, overlap=UPSCALE_OVERLAP, project=3, n_steps=5,
                   texture=UPSCALE_TEXTURE, keep_smooth=True, generator=torch.Generator().manual_seed(0),
                   show_progress=False)
    assert torch.equal(methods[default](lr), want)
    assert not torch.equal(methods['SRDDPM texture 0.2+BP3'](lr), methods['SRDDPM DDIM-5+BP3'](lr))
