"""Tests of srddpm.training beyond the chapter's story: exact resume after SIGKILL, the NaN guard, refused
checkpoints, atomic writes, multi-part training, throughput options, and a 2-process gloo DDP run.

They run on the device `SRDDPM_DEVICE` names (the CPU by default). On the CPU, resumed runs must equal
uninterrupted ones bit for bit; on CUDA, whose kernels may sum in a different order from run to run,
within `CUDA_TOLERANCE`."""
import json, os, signal, subprocess, sys, textwrap, time
from pathlib import Path
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from srddpm.training import *

ROOT = Path(__file__).resolve().parents[1]
ON_CPU = (os.environ.get('SRDDPM_DEVICE') or 'cpu').startswith('cpu')
CUDA_TOLERANCE = dict(rtol=1e-4, atol=1e-5)


def make_mlp(seed=0, hidden=16):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, hidden), nn.ReLU(), nn.Dropout(0.1), nn.Linear(hidden, 1))


def toy_data(n=256):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, generator=g)
    return x, x.sum(1, keepdim=True).sin()


def loss_fn(model, batch):
    x, y = batch
    return dict(loss=F.mse_loss(model(x + 0.01 * torch.randn_like(x)), y))


def cfg(out=None, **kw):
    base = dict(n_steps=20, batch_size=16, lr=1e-2, optimizer='adamw', weight_decay=0.01, warmup_steps=3, ema_decay=0.9,
                checkpoint_every=5, log_every=2, out_dir=str(out) if out else None)
    return TrainConfig(**{**base, **kw})


def same_state(a, b, exact=ON_CPU):
    "Equal state dicts: bit for bit on the CPU (or when `exact`), within CUDA_TOLERANCE otherwise."
    if set(a) != set(b): return False
    a, b = ({k: v.detach().cpu() for k, v in d.items()} for d in (a, b))
    if exact: return all(torch.equal(a[k], b[k]) for k in a)
    return all(torch.allclose(a[k].double(), b[k].double(), **CUDA_TOLERANCE) for k in a)


def same_numbers(x, y):
    return x == y if ON_CPU else np.allclose(x, y, **CUDA_TOLERANCE)


# ---- exact resume ----------------------------------------------------------------------------

SCRIPT = textwrap.dedent('''
    import os, sys, time, torch, torch.nn as nn, torch.nn.functional as F
    torch.set_num_threads(1)
    from srddpm.training import *
    out, mode = sys.argv[1], sys.argv[2]
    g = torch.Generator().manual_seed(0)
    x = torch.randn(512, 3, generator=g); y = x.sum(1, keepdim=True).sin()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 1))
    def loss_fn(m, b): return dict(loss=F.mse_loss(m(b[0] + 0.01 * torch.randn_like(b[0])), b[1]))
    cfg = TrainConfig(n_steps=40, batch_size=16, lr=1e-2, optimizer='adamw', weight_decay=0.01, warmup_steps=4,
                      ema_decay=0.9, checkpoint_every=5, log_every=3, out_dir=out)
    tr = Trainer(model, loss_fn, (x, y), cfg)
    if mode == 'resume': tr.resume()
    slow = (lambda t, logs: time.sleep(0.08)) if mode == 'slow' else None
    tr.fit(callback=slow, show_progress=False)
''')


def _run(script, *args, env=None, **kw):
    env = dict(os.environ, OMP_NUM_THREADS='1', SRDDPM_PROGRESS='0', **(env or {}))
    return subprocess.Popen([sys.executable, str(script), *map(str, args)], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_resume_after_sigkill_is_bit_identical(tmp_path):
    script = tmp_path / 'train.py'; script.write_text(SCRIPT)
    straight = _run(script, tmp_path / 'straight', 'straight')
    killed = _run(script, tmp_path / 'killed', 'slow')
    deadline = time.time() + 120
    while time.time() < deadline:
        ck = latest_checkpoint(tmp_path / 'killed') if (tmp_path / 'killed' / 'checkpoints' / 'latest.json').exists() else None
        if ck is not None and int(ck.name.split('_')[1]) >= 15: break
        assert killed.poll() is None, killed.stderr.read()
        time.sleep(0.05)
    time.sleep(0.2)                             # somewhere inside the next steps, maybe inside a checkpoint write
    os.kill(killed.pid, signal.SIGKILL); killed.wait()
    assert killed.returncode == -signal.SIGKILL
    at_kill = json.loads((tmp_path / 'killed' / 'checkpoints' / 'latest.json').read_text())['step']
    assert 15 <= at_kill < 40, 'the run must be killed before it ends'
    resumed = _run(script, tmp_path / 'killed', 'resume')
    for p in (straight, resumed):
        _, err = p.communicate(timeout=120); assert p.returncode == 0, err
    a, b = read_checkpoint(tmp_path / 'straight'), read_checkpoint(tmp_path / 'killed')
    assert a['meta']['step'] == b['meta']['step'] == 40
    assert same_state(a['model'], b['model']) and same_state(a['ema'], b['ema'])
    la, lb = read_log(tmp_path / 'straight' / 'log.csv'), read_log(tmp_path / 'killed' / 'log.csv')
    assert [r['step'] for r in la] == [r['step'] for r in lb] and same_numbers([r['loss'] for r in la], [r['loss'] for r in lb])
    assert not list((tmp_path / 'killed' / 'checkpoints').glob('.tmp-*')), 'leftover temp dirs are cleaned up'


def test_resume_in_process_with_callable_data(tmp_path):
    def sample(n, g):
        x = torch.randn(n, 3, generator=g); return x, x.sum(1, keepdim=True).sin()
    a = Trainer(make_mlp(), loss_fn, sample, cfg(tmp_path / 'a')); a.fit(show_progress=False)
    class Stop(Exception): pass
    def stop(t, logs):
        if t.step == 12: raise Stop
    b = Trainer(make_mlp(), loss_fn, sample, cfg(tmp_path / 'b'))
    with pytest.raises(Stop): b.fit(callback=stop, show_progress=False)
    c = Trainer(make_mlp(seed=9), loss_fn, sample, cfg(tmp_path / 'b'))
    assert c.resume() == 10
    c.fit(show_progress=False)
    assert same_state(a.model.state_dict(), c.model.state_dict())
    # a different seed gives a different run (the check above is not vacuous)
    d = Trainer(make_mlp(), loss_fn, sample, cfg(tmp_path / 'd', seed=1)); d.fit(show_progress=False)
    assert not same_state(a.model.state_dict(), d.model.state_dict())


def test_keep_last_and_load_weights(tmp_path):
    tr = Trainer(make_mlp(), loss_fn, toy_data(), cfg(tmp_path, keep_last=2)); tr.fit(show_progress=False)
    assert sorted(p.name for p in (tmp_path / 'checkpoints').glob('step_*')) == ['step_00000015', 'step_00000020']
    m = load_weights(make_mlp(seed=5), tmp_path)                   # EMA weights by default, safetensors only
    assert same_state(m.state_dict(), tr.ema.shadow)
    m = load_weights(make_mlp(seed=5), tmp_path, ema=False)
    assert same_state(m.state_dict(), tr.model.state_dict())
    with pytest.raises(CheckpointError, match='do not fit'): load_weights(make_mlp(hidden=8), tmp_path)


# ---- the NaN guard ---------------------------------------------------------------------------

def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    def nan_at_13(model, batch):
        out = loss_fn(model, batch)
        if tr.step == 13: out['loss'] = out['loss'] * float('nan')
        return out
    tr = Trainer(make_mlp(), nan_at_13, toy_data(), cfg(tmp_path))
    with pytest.raises(NonFiniteLossError, match=r'step 13: the loss is nan.*step_00000010'):
        tr.fit(show_progress=False)
    ck = read_checkpoint(tmp_path)
    assert ck['meta']['step'] == 10 and all(torch.isfinite(v).all() for v in ck['model'].values())
    assert all(torch.isfinite(p).all() for p in tr.model.parameters()), 'the bad step never reached the weights'


def test_inf_gradient_is_caught_before_the_update(tmp_path):
    def inf_grad(model, batch):
        out = loss_fn(model, batch)
        if tr.step == 4: out['loss'] = out['loss'] + 0 * (model[0].weight.sum() * torch.tensor(float('inf')))  # loss nan
        return out
    tr = Trainer(make_mlp(), inf_grad, toy_data(), cfg(None))
    with pytest.raises(NonFiniteLossError, match='no checkpoint had been written'):
        tr.fit(show_progress=False)


# ---- refused checkpoints ---------------------------------------------------------------------

@pytest.fixture
def trained(tmp_path):
    Trainer(make_mlp(), loss_fn, toy_data(), cfg(tmp_path / 'run')).fit(show_progress=False)
    return tmp_path / 'run'


@pytest.mark.parametrize('change, match', [(dict(lr=2e-2), 'lr: checkpoint 0.01, now 0.02'), (dict(seed=3), 'seed'),
                                            (dict(n_steps=30), 'n_steps'), (dict(optimizer='adam'), 'optimizer')])
def test_refuses_other_config(trained, change, match):
    with pytest.raises(CheckpointError, match=match):
        Trainer(make_mlp(), loss_fn, toy_data(), cfg(trained, **change)).resume()


def test_writing_fields_may_change(trained):
    tr = Trainer(make_mlp(), loss_fn, toy_data(), cfg(trained, log_every=7, checkpoint_every=3, keep_last=1))
    assert tr.resume() == 20


def test_refuses_other_architecture(trained):
    with pytest.raises(CheckpointError, match='parameter shapes'):
        Trainer(make_mlp(hidden=8), loss_fn, toy_data(), cfg(trained)).resume()


@pytest.mark.parametrize('name', ['model.safetensors', 'ema.safetensors', 'state.pt', 'config.json'])
def test_refuses_truncated_files(trained, name):
    f = latest_checkpoint(trained) / name
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    with pytest.raises(CheckpointError, match='truncated'):
        Trainer(make_mlp(), loss_fn, toy_data(), cfg(trained)).resume()


def test_refuses_altered_file(trained):
    f = latest_checkpoint(trained) / 'model.safetensors'
    b = bytearray(f.read_bytes()); b[-1] ^= 1; f.write_bytes(bytes(b))
    with pytest.raises(CheckpointError, match='SHA-256'):
        read_checkpoint(trained)


class Payload:
    def __init__(self, path): self.path = str(path)
    def __reduce__(self): return (exec, (f"open({self.path!r}, 'w').write('ran')",))


@pytest.mark.parametrize('fix_manifest', [False, True])
def test_refuses_pickle_with_code_and_never_runs_it(trained, tmp_path, fix_manifest):
    import hashlib
    marker = tmp_path / 'payload-ran'
    ck = latest_checkpoint(trained)
    torch.save({'step': 20, 'evil': Payload(marker)}, ck / 'state.pt')
    if fix_manifest:     # an attacker also rewrites config.json: only weights_only=True stands in the way
        meta = json.loads((ck / 'config.json').read_text()); blob = (ck / 'state.pt').read_bytes()
        meta['files']['state.pt'] = dict(bytes=len(blob), sha256=hashlib.sha256(blob).hexdigest())
        (ck / 'config.json').write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match='refused' if fix_manifest else 'truncated or altered|SHA-256'):
        Trainer(make_mlp(), loss_fn, toy_data(), cfg(trained)).resume()
    assert not marker.exists(), 'the payload ran'


def test_refuses_missing_and_foreign(tmp_path):
    with pytest.raises(CheckpointError, match='no checkpoint|not a checkpoint'): read_checkpoint(tmp_path)
    (tmp_path / 'config.json').write_text(json.dumps(dict(format='something-else', files={})))
    with pytest.raises(CheckpointError, match='not a srddpm'): read_checkpoint(tmp_path)


# ---- atomic writes ---------------------------------------------------------------------------

def test_atomic_write_keeps_old_file_when_interrupted(tmp_path, monkeypatch):
    f = tmp_path / 'x.bin'; atomic_write_bytes(f, b'old')
    def boom(*a): raise OSError('disk full')
    monkeypatch.setattr(os, 'replace', boom)
    with pytest.raises(OSError): atomic_write_bytes(f, b'new')
    assert f.read_bytes() == b'old' and [p.name for p in tmp_path.iterdir()] == ['x.bin']


def test_written_files_and_checkpoints_get_the_usual_permissions(tmp_path):
    "mkstemp/mkdtemp make 0600/0700: runs and models must be readable as any file the user writes."
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / 'x.bin', b'data')
        assert (tmp_path / 'x.bin').stat().st_mode & 0o777 == 0o644
        tr = Trainer(make_mlp(), loss_fn, toy_data(), cfg(tmp_path / 'run', n_steps=4)); tr.fit(show_progress=False)
        ck = latest_checkpoint(tmp_path / 'run')
        assert ck.stat().st_mode & 0o777 == 0o755
        assert {p.stat().st_mode & 0o777 for p in ck.iterdir()} == {0o644}
    finally:
        os.umask(old)


def test_failed_checkpoint_write_leaves_previous_latest(tmp_path, monkeypatch):
    tr = Trainer(make_mlp(), loss_fn, toy_data(), cfg(tmp_path, n_steps=10)); tr.fit(show_progress=False)
    before = latest_checkpoint(tmp_path)
    import srddpm.training as T
    real = T.atomic_write_bytes
    def fail_on_config(path, data):
        if Path(path).name == 'config.json': raise OSError('killed')
        real(path, data)
    monkeypatch.setattr(T, 'atomic_write_bytes', fail_on_config)
    tr.step = 11
    with pytest.raises(OSError): tr.save_checkpoint()
    assert latest_checkpoint(tmp_path) == before and not list((tmp_path / 'checkpoints').glob('.tmp-*'))
    assert read_checkpoint(tmp_path)['meta']['step'] == 10


# ---- configuration, schedule, parts ----------------------------------------------------------

def test_config_validation():
    for bad in [dict(optimizer='sgd'), dict(schedule='step'), dict(amp='fp8'), dict(ema_decay=0), dict(n_steps=0),
                dict(warmup_steps=-1), dict(log_every=0)]:
        with pytest.raises(ValueError): TrainConfig(**bad)


def test_lr_follows_schedule():
    tr = Trainer(make_mlp(), loss_fn, toy_data(), cfg(None, n_steps=20, warmup_steps=4, min_lr_ratio=0.1, log_every=1))
    tr.fit(show_progress=False)
    lrs = [r['lr'] for r in tr.history]          # lr after step s = factor(s)
    expected = [1e-2 * lr_factor(s, 20, 'cosine', 4, 0.1) for s in range(1, 21)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)


def test_frozen_parameters_are_not_optimised():
    model = make_mlp()
    for p in model[0].parameters(): p.requires_grad_(False)
    frozen = {k: v.clone() for k, v in model[0].state_dict().items()}
    tr = Trainer(model, loss_fn, toy_data(), cfg(None, n_steps=5)); tr.fit(show_progress=False)
    assert same_state(frozen, model[0].state_dict(), exact=True)
    assert all(p.grad is None for p in model[0].parameters())
    with pytest.raises(ValueError, match='no trainable'):
        Trainer(model, loss_fn, toy_data(), cfg(None), parts={'enc': model[0]})


def test_parts_alternate_updates(device):
    "Two parts, each its own optimiser: part 'a' only changes when its loss is minimised, and vice versa."
    model = nn.ModuleDict({'a': nn.Linear(2, 1), 'b': nn.Linear(2, 1)})
    calls = []
    def loss(m, batch, part):
        calls.append(part)
        x, = batch
        return dict(loss=(m[part](x) - (1.0 if part == 'a' else -1.0)).pow(2).mean() + 0 * m['a'](x).sum() + 0 * m['b'](x).sum())
    tr = Trainer(model, loss, torch.randn(64, 2), cfg(None, n_steps=200, lr=5e-2, grad_clip=None), parts={'a': model['a'], 'b': model['b']},
                 ema=False)
    tr.fit(show_progress=False)
    assert calls[:4] == ['a', 'b', 'a', 'b'] and {'a/loss', 'b/loss'} <= set(tr.history[-1])
    with torch.no_grad(): x = torch.randn(16, 2, device=device)
    assert (model['a'](x) - 1).abs().max() < 0.1 and (model['b'](x) + 1).abs().max() < 0.1


def test_loss_fn_contract():
    tr = Trainer(make_mlp(), lambda m, b: m(b[0]).mean(1), toy_data(), cfg(None))
    with pytest.raises(TypeError, match='scalar'): tr.fit(show_progress=False)
    tr = Trainer(make_mlp(), lambda m, b: F.mse_loss(m(b[0]), b[1]), toy_data(), cfg(None, n_steps=3, warmup_steps=0))  # a bare tensor is fine
    tr.fit(show_progress=False); assert tr.step == 3


def test_amp_is_a_noop_on_cpu(capsys):
    tr = Trainer(make_mlp(), loss_fn, toy_data(), cfg(None, n_steps=3, warmup_steps=0, amp='fp16', device='cpu'))
    assert 'CUDA feature' in capsys.readouterr().out and tr.amp_dtype is None and not tr.scaler.is_enabled()
    tr.fit(show_progress=False)


# ---- DDP with two CPU processes --------------------------------------------------------------

DDP_SCRIPT = textwrap.dedent('''
    import json, sys, torch, torch.nn as nn, torch.nn.functional as F
    torch.set_num_threads(1)
    from safetensors.torch import save_file
    from srddpm.training import *
    out, batch = sys.argv[1], int(sys.argv[2])
    rank, world, device = setup_distributed()
    class Indexed(torch.utils.data.Dataset):
        def __init__(self):
            g = torch.Generator().manual_seed(0); self.x = torch.randn(100, 3, generator=g); self.y = self.x.sum(1, keepdim=True).sin()
        def __len__(self): return len(self.x)
        def __getitem__(self, i): return self.x[i], self.y[i], i
    seen = []
    def loss_fn(m, b):
        x, y, idx = b; seen.append(idx.tolist()); return dict(loss=F.mse_loss(m(x), y))
    torch.manual_seed(rank)                       # different initial weights: DDP must start all ranks from rank 0's
    if rank == 0: torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1))
    cfg = TrainConfig(n_steps=8, batch_size=batch, lr=1e-2, warmup_steps=2, ema_decay=0.9, checkpoint_every=4, out_dir=out + '/run')
    tr = Trainer(model, loss_fn, Indexed(), cfg)
    tr.fit(show_progress=False)
    save_file({k: v.contiguous() for k, v in tr.model.state_dict().items()}, f'{out}/rank{rank}.safetensors')
    fingerprints = tr.rank_fingerprints()
    # run_on_rank0: rank 0's result for every rank; its error raised on every rank
    got = run_on_rank0(lambda: f'computed by rank {rank}')
    def taken(): raise FileExistsError(f'taken (seen by rank {rank})')
    try: run_on_rank0(taken); err = None
    except FileExistsError as e: err = str(e)
    # two parts, each its own optimiser (the adversarial stage's layout), from different initial weights per rank
    torch.manual_seed(10 + rank)
    ab = nn.ModuleDict({'a': nn.Linear(3, 1), 'b': nn.Linear(3, 1)})
    def two(m, b, part):
        x, y, idx = b
        return dict(loss=F.mse_loss(m['a'](x) if part == 'a' else m['b'](x) + 0.1 * m['a'](x).detach(), y))
    tr2 = Trainer(ab, two, Indexed(), TrainConfig(n_steps=4, batch_size=batch, lr=1e-2, ema_decay=0.9),
                  parts={'a': ab['a'], 'b': ab['b']})
    tr2.fit(show_progress=False)
    json.dump(dict(seen=seen[1:], world=world, wrote=tr.last_checkpoint is not None, log=tr.history[-1]['loss'],
                   fingerprints=fingerprints, got=got, err=err, parts=tr2.rank_fingerprints()),
              open(f'{out}/rank{rank}.json', 'w'))
    cleanup_distributed()
''')


def test_ddp_two_cpu_processes_gloo(tmp_path):
    from safetensors.torch import load_file
    script = tmp_path / 'ddp.py'; script.write_text(DDP_SCRIPT)
    (tmp_path / 'ddp').mkdir(); (tmp_path / 'single').mkdir()
    env = dict(os.environ, OMP_NUM_THREADS='1', SRDDPM_PROGRESS='0', SRDDPM_DEVICE='cpu')    # gloo between CPU processes
    ddp = subprocess.Popen([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', str(script),
                            str(tmp_path / 'ddp'), '4'], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    single = _run(script, tmp_path / 'single', 8, env=dict(SRDDPM_DEVICE='cpu'))     # one process, the global batch
    for p in (ddp, single):
        _, err = p.communicate(timeout=120); assert p.returncode == 0, err[-3000:]
    r0, r1 = (json.loads((tmp_path / 'ddp' / f'rank{r}.json').read_text()) for r in (0, 1))
    one = json.loads((tmp_path / 'single' / 'rank0.json').read_text())
    assert r0['world'] == r1['world'] == 2 and one['world'] == 1
    w0, w1, ws = (load_file(tmp_path / d / f) for d, f in [('ddp', 'rank0.safetensors'), ('ddp', 'rank1.safetensors'), ('single', 'rank0.safetensors')])
    assert same_state(w0, w1), 'the two ranks must hold identical weights'
    for k in w0: torch.testing.assert_close(w0[k], ws[k], rtol=1e-5, atol=1e-6)   # = one process with the global batch
    for s in range(8):
        a, b = set(r0['seen'][s]), set(r1['seen'][s])
        assert len(a) == len(b) == 4 and not a & b, 'each rank reads its own shard'
        assert a | b == set(one['seen'][s])
    assert r0['wrote'] and not r1['wrote'], 'only rank 0 writes checkpoints'
    assert r0['log'] == r1['log'], 'logged losses are averaged over the ranks'
    assert read_checkpoint(tmp_path / 'ddp' / 'run')['meta']['world_size'] == 2
    fp = r0['fingerprints']
    assert r1['fingerprints'] == fp and [f['rank'] for f in fp] == [0, 1]
    assert fp[0]['weights'] == fp[1]['weights'] and fp[0]['ema'] == fp[1]['ema'], 'one model, one EMA'
    assert fp[0]['first_batch'] != fp[1]['first_batch'], 'each rank reads its own batch'
    assert r0['got'] == r1['got'] == 'computed by rank 0'
    assert r0['err'] == r1['err'] == 'taken (seen by rank 0)'
    p0, p1 = r0['parts']
    assert p0['weights'] == p1['weights'] and p0['ema'] == p1['ema'], 'two parts under DDP: the ranks agree'



# ---- throughput: FLOP count, images/s, channels_last, torch.compile --------------------------

def test_flop_count_and_throughput_report(tmp_path, capsys):
    tr = Trainer(make_mlp(), loss_fn, toy_data(), cfg(tmp_path, n_steps=12, log_every=4))
    tr.fit(show_progress=True)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    forward = [2 * 16 * 3 * 16, 2 * 16 * 16 * 1]            # 2 B n_in n_out per linear layer
    assert tr.flops_per_step == 3 * sum(forward) - forward[0], 'weights and inputs get gradients, the data does not'
    t = tr.throughput
    assert t['global_batch'] == 16 and t['steps'] == 11 and t['images_per_s'] == pytest.approx(16 * t['steps_per_s'])
    assert t['tflop_per_s'] == pytest.approx(tr.flops_per_step * t['steps_per_s'] / 1e12)
    assert line == tr.throughput_line() and 'global batch 16 (1 process × 16)' in line and 'TFLOP/s' in line
    rows = read_log(tmp_path / 'log.csv')
    assert all(r['images_per_s'] > 0 and r['tflop_per_s'] > 0 for r in rows)
    fig = plot_losses(tmp_path / 'log.csv')
    assert {l.get_label() for l in fig.axes[0].get_lines()} == {'loss'}, 'throughput columns are not losses'


def test_counting_flops_leaves_the_run_untouched(device):
    model = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 1))
    tr = Trainer(model, loss_fn, toy_data(), cfg(None, n_steps=3, warmup_steps=0))
    batch = to_device(toy_data(16), tr.device)
    before, rng = {k: v.clone() for k, v in model.state_dict().items()}, torch.get_rng_state()
    assert tr.count_flops(batch) > 0
    assert same_state(before, model.state_dict(), exact=True), 'no running statistics updated'
    assert torch.equal(rng, torch.get_rng_state()) and all(p.grad is None for p in model.parameters())


def _conv_run(device, **kw):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.GroupNorm(2, 8), nn.SiLU(), nn.Conv2d(8, 3, 3, padding=1))
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, 8, 8, generator=g)
    layouts = []
    def loss(m, b):
        layouts.append(b[0].is_contiguous(memory_format=torch.channels_last))
        return F.mse_loss(m(b[0]), b[0].flip(-1))
    tr = Trainer(model, loss, (x,), cfg(None, n_steps=6, batch_size=8, **kw))
    tr.fit(show_progress=False)
    return tr, layouts


def test_channels_last_switch(device):
    nhwc, seen = _conv_run(device, channels_last=True)
    assert nhwc.model[0].weight.is_contiguous(memory_format=torch.channels_last) and all(seen)
    nchw, seen = _conv_run(device, channels_last=False)
    assert not nchw.model[0].weight.is_contiguous(memory_format=torch.channels_last) and not any(seen)
    assert nhwc.channels_last and not nchw.channels_last
    for a, b in zip(nhwc.model.parameters(), nchw.model.parameters()):     # the same run, rounded differently
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert 'channels_last' in RESUMABLE_FIELDS and 'compile' in RESUMABLE_FIELDS


def test_compile_switch(device):
    with pytest.raises(ValueError, match='compile'): TrainConfig(compile='')
    with pytest.raises(ValueError, match='compile'): TrainConfig(compile=1)
    eager, _ = _conv_run(device)
    compiled, _ = _conv_run(device, compile='aot_eager')        # TorchDynamo + AOTAutograd, no code generation
    assert isinstance(compiled.loss_module, torch._dynamo.eval_frame.OptimizedModule)
    assert not isinstance(eager.loss_module, torch._dynamo.eval_frame.OptimizedModule)
    for a, b in zip(eager.model.parameters(), compiled.model.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_run_on_rank0_in_one_process():
    assert run_on_rank0(lambda a, b=0: a + b, 2, b=3) == 5
    with pytest.raises(KeyError): run_on_rank0(lambda: {}['x'])
