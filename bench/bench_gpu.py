"""The GPU throughput of the full SRDDPM run, in one table: loader, training stages, upscaling.

- loader: patches/s of `SRPatchDataset` (uint8 cache, batched make_lr) through a DataLoader with `--workers`
  workers, at the full run's 160-px patches and batch 64, on DIV2K (`SRDDPM_DIV2K`) or DIV2K-sized stand-ins;
- each training stage (encoder, diffusion, adversarial) at the `full` profile's model size, patch and batch, on
  random batches already on the device: steps/s, images/s, the FLOPs of one step (`FlopCounterMode`, forward and
  backward) and the achieved TFLOP/s, peak memory — in float32, with bf16 autocast, and compiled (bf16 +
  `torch.compile`, for `--compiled-stages`; the seconds of the first two steps include the compilation);
- upscaling: seconds per output megapixel of `srddpm.inference.upscale` (DDIM, tiled) with the full-size model.
`--pytest` then runs `SRDDPM_DEVICE=<device> pytest tests` in the time left of `--budget` and appends its summary.
The table goes to stdout and, with `--out DIR`, to DIR/bench_gpu.md (pytest's output to DIR/pytest.txt).

    python bench/bench_gpu.py --out "$OUT" --pytest                # on a GPU machine: about 8 minutes in all
    python bench/bench_gpu.py --quick                              # any machine, seconds: tiny sizes
"""
import argparse, os, platform, resource, subprocess, sys, tempfile, time
from pathlib import Path
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_loader import cpu_name, patches_per_second                       # noqa: E402
from srddpm.core import get_device                                          # noqa: E402
from srddpm.recipe import (RecipeConfig, SRGANPair, encoder_loss, make_adversarial_loss,  # noqa: E402
                           make_diffusion_loss, make_discriminator)
from srddpm.architecture import SRDDPM                                      # noqa: E402
from srddpm.training import TrainConfig, Trainer                            # noqa: E402
from srddpm.sr_data import SRPatchDataset, div2k_files, div2k_standins      # noqa: E402
from srddpm.inference import upscale                                        # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize(device)


def peak_memory(device) -> str:
    if device.type == 'cuda': return f'{torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB'
    return f'{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.1f} GiB RSS (process so far)'


def trainer_for(stage, cfg, device, batch, patch, amp, compile_backend):
    "A Trainer of `stage` at `cfg`'s model size on random batches generated on `device`."
    s = cfg.scale
    def data(bs, gen):
        g = torch.Generator(device=device).manual_seed(int(torch.randint(0, 2**31, (1,), generator=gen)))
        return (torch.rand(bs, 3, patch // s, patch // s, generator=g, device=device) * 2 - 1,
                torch.rand(bs, 3, patch, patch, generator=g, device=device) * 2 - 1)
    model = SRDDPM(cfg.model)
    def tc(n): return TrainConfig(n_steps=n, batch_size=batch, lr=1e-4, ema_decay=0.999, warmup_steps=0,
                                  device=str(device), amp=amp, compile=compile_backend or False, log_every=10**6)
    if stage == 'encoder': return lambda n: Trainer(model.encoder, encoder_loss, data, tc(n))
    model.freeze_encoder()
    if stage == 'diffusion':
        return lambda n: Trainer(model, make_diffusion_loss(cfg.diffusion_loss), data, tc(n))
    pair = SRGANPair(model, make_discriminator(cfg.adversarial))
    loss = make_adversarial_loss(cfg.adversarial, None, cfg.diffusion_loss)
    return lambda n: Trainer(pair, loss, data, tc(n), parts={'g': model, 'd': pair.disc})


def bench_stage(stage, cfg, device, batch, patch, mode, warm, steps, backend):
    amp = None if mode == 'fp32' else 'bf16'
    make = trainer_for(stage, cfg, device, batch, patch, amp, backend if mode == 'compiled' else None)
    if device.type == 'cuda': torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats(device)
    tr = make(warm + steps)
    marks = []
    def cb(t, logs): sync(device); marks.append(time.perf_counter())
    t0 = time.perf_counter()
    tr.fit(callback=cb, show_progress=False)
    sps = steps / (marks[-1] - marks[warm - 1])
    flops = tr.flops_per_step
    row = dict(stage=stage, mode=mode, steps_per_s=sps, images_per_s=sps * batch, gflop=flops / 1e9,
               tflops=flops * sps / 1e12, memory=peak_memory(device), first=marks[min(1, len(marks) - 1)] - t0)
    del tr
    return row


def bench_upscale(model, device, lr_side, n_steps, tile):
    model = model.to(device).eval()
    lr = torch.rand(1, 3, lr_side, lr_side, generator=torch.Generator().manual_seed(0)) * 2 - 1
    upscale(lr, method='srddpm', model=model, scale=4, n_steps=n_steps, tile=tile)      # warm-up
    sync(device); t0 = time.perf_counter()
    sr = upscale(lr, method='srddpm', model=model, scale=4, n_steps=n_steps, tile=tile)
    sync(device)
    return (time.perf_counter() - t0) / (sr.shape[-1] * sr.shape[-2] / 1e6), sr.shape[-1]


def run_pytest(device, seconds, out_dir):
    "SRDDPM_DEVICE=<device> pytest tests in at most `seconds`; returns the summary lines."
    workers = max(1, min(8, (os.cpu_count() or 2) // 2))
    env = dict(os.environ, SRDDPM_DEVICE=device.type, SRDDPM_PROFILE='ci', SRDDPM_PROGRESS='0')
    cmd = [sys.executable, '-m', 'pytest', '-q', '-rfE', '-n', str(workers), '--dist', 'loadfile', 'tests']
    try:
        r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=max(30, seconds))
        text, code = r.stdout + r.stderr, r.returncode
    except subprocess.TimeoutExpired as e:
        text = (e.stdout or b'').decode() if isinstance(e.stdout, bytes) else (e.stdout or '')
        text, code = text + f'\nstopped after {seconds:.0f} s (the budget)', 'timeout'
    if out_dir: (out_dir / 'pytest.txt').write_text(text)
    lines = [l for l in text.splitlines()
             if l.startswith(('FAILED', 'ERROR')) or any(w in l for w in (' passed', ' failed', 'stopped after'))]
    head = f'`SRDDPM_DEVICE={device.type} pytest -n {workers} tests` (exit {code}):'
    return [head] + [f'    {l}' for l in lines[-40:]]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', type=Path, help='write bench_gpu.md (and pytest.txt) here')
    ap.add_argument('--quick', action='store_true', help='tiny sizes on any device: a few seconds on a CPU')
    ap.add_argument('--workers', type=int, default=min(8, os.cpu_count() or 1), help='DataLoader workers')
    ap.add_argument('--modes', default='fp32,bf16,compiled')
    ap.add_argument('--compiled-stages', default='diffusion',
                    help='stages also timed compiled (compiling costs minutes)')
    ap.add_argument('--compile-backend', default=None,
                    help='torch.compile backend (default inductor; eager with --quick)')
    ap.add_argument('--steps', type=int, default=10, help='timed steps per row (after 3 warm-up steps)')
    ap.add_argument('--pytest', action='store_true', help='then run the tests on this device in the time left')
    ap.add_argument('--budget', type=float, default=480, help='seconds for everything, pytest included')
    a = ap.parse_args(argv)
    t_start = time.perf_counter()
    os.environ.setdefault('SRDDPM_PROGRESS', '0')
    device = get_device()
    torch.manual_seed(0)
    if a.quick:
        cfg = RecipeConfig.for_profile('ci')
        cfg.adversarial.disc_layers, cfg.adversarial.disc_base_ch = 1, 8
        patch, batch, warm, steps, images, size, workers = 16, 2, 1, 2, 2, (48, 64), 0
        lr_side, n_steps, tile, backend = 8, 2, None, a.compile_backend or 'eager'
    else:
        cfg = RecipeConfig.for_profile('full')
        patch, batch, warm, steps, images, size, workers = 160, 64, 3, a.steps, 16, (1356, 2040), a.workers
        lr_side, n_steps, tile, backend = 256, 20, 128, a.compile_backend or 'inductor'
        if device.type == 'cuda':          # fp32 rows in true float32
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else f'{cpu_name()} (no GPU)'
    lines = [f'# SRDDPM on {name} | {device} | torch {torch.__version__}, CUDA {torch.version.cuda} | '
             f'{os.cpu_count()} CPU cores | {"quick sizes" if a.quick else "the full profile"} | '
             f'{time.strftime("%Y-%m-%d %H:%M")}', '']
    def emit(*ls):
        for l in ls: print(l, flush=True); lines.append(l)
    for l in lines: print(l, flush=True)

    # the loader
    with tempfile.TemporaryDirectory(prefix='srddpm-bench-gpu-') as tmp:
        root = os.environ.get('SRDDPM_DIV2K')
        files = div2k_files(root) if root else div2k_standins(Path(tmp) / 'DIV2K_train_HR', n=images, size=size)
        ds = SRPatchDataset(files, cfg.scale, patch, 1_000_000, cache_dir=Path(tmp) / 'cache')
        t0 = time.perf_counter()
        for k in range(len(files)): ds.image(k)
        fill = time.perf_counter() - t0
        rate = patches_per_second(ds, workers, batch, 2 if a.quick else 20, max(1, workers))
    src = f'DIV2K_train_HR ({len(files)} files)' if root else f'{len(files)} stand-ins of {size[1]}x{size[0]}'
    emit(f'Loader: {rate:.0f} patches/s with {workers} workers ({patch}-px patches, batch {batch}, {src}; '
         f'decoding them into the uint8 cache took {fill:.1f} s)', '')

    # the training stages
    emit(f'Training at {"tiny" if a.quick else "the full profile"}: HR patch {patch}, batch {batch}, '
         f'{steps} timed steps after {warm}; random batches on the device.' +
         (' bf16 autocast is CUDA-only: the bf16 rows run in float32 here.' if device.type != 'cuda' else ''),
         f'fp32 = float32 without TF32; compiled = bf16 + torch.compile (backend {backend}).', '',
         '| stage | mode | steps/s | images/s | GFLOP/step | TFLOP/s | peak memory | first 2 steps (s) |',
         '|---|---|---|---|---|---|---|---|')
    compiled = set(a.compiled_stages.split(','))
    for stage in ('encoder', 'diffusion', 'adversarial'):
        for mode in a.modes.split(','):
            if mode == 'compiled' and stage not in compiled: continue
            try: r = bench_stage(stage, cfg, device, batch, patch, mode, warm, steps, backend)
            except Exception as e:                 # a row that fails says why; the others still run
                why = f'{type(e).__name__}: {(str(e).splitlines() or [""])[0][:120]}'
                emit(f'| {stage} | {mode} | failed: {why} |||||'); continue
            emit(f'| {stage} | {mode} | {r["steps_per_s"]:.2f} | {r["images_per_s"]:.1f} | {r["gflop"]:.4g} | '
                 f'{r["tflops"]:.3g} | {r["memory"]} | {r["first"]:.1f} |')

    # upscaling
    model = SRDDPM(cfg.model)
    sec_mp, side = bench_upscale(model, device, lr_side, n_steps, tile)
    emit('', f'Upscale x4 (`upscale(method="srddpm", n_steps={n_steps}, tile={tile})`, the model above, '
             f'untrained): {sec_mp:.2f} s per output megapixel ({lr_side}x{lr_side} -> {side}x{side})')
    shipped = ROOT / 'srddpm' / 'weights' / 'srddpm_x4'
    if (shipped / 'model.safetensors').is_file() and not a.quick:
        from srddpm.recipe import load_srddpm
        sec_mp, side = bench_upscale(load_srddpm(shipped, device=device), device, lr_side, n_steps, tile)
        emit(f'Upscale x4 with the shipped weights (the book-sized model): {sec_mp:.2f} s per output megapixel')
    emit(f'Benchmark time: {time.perf_counter() - t_start:.0f} s')
    if a.out: a.out.mkdir(parents=True, exist_ok=True)
    if a.pytest:
        left = a.budget - (time.perf_counter() - t_start)
        emit('', *run_pytest(device, left - 10, a.out))
    if a.out: (a.out / 'bench_gpu.md').write_text('\n'.join(lines) + '\n')


if __name__ == '__main__': main()
