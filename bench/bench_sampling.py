"""Sampling speed of DDPM (all T steps) vs DDIM-50 vs DDIM-20 on ONE trained digits U-Net.

    .venv/bin/python bench/bench_sampling.py [--profile ci|book|full] [--n-images N] [--retrain]

Trains the chapter's digits U-Net (srddpm.unet, 16x16 digits, T = 1000, sizes from the profile) once and
caches its EMA weights under _build/bench/ (safetensors + JSON config); later runs load them. Prints a
header naming the machine and a table: sampler, steps, seconds per image, ratio to DDPM-T, plus the
mean nearest-neighbour distance of the samples to the training digits (a rough quality figure).
No timing is asserted: the numbers depend on the machine and on what else it is doing.
"""
from __future__ import annotations
import argparse, json, os, platform, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def cpu_name() -> str:
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'): return line.split(':', 1)[1].strip()
    except OSError: pass
    return platform.processor() or platform.machine()

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--profile', default=os.environ.get('SRDDPM_PROFILE', 'ci'), choices=['ci', 'book', 'full'])
    ap.add_argument('--n-images', type=int, default=None, help='images per sampler (default: by profile)')
    ap.add_argument('--retrain', action='store_true', help='ignore the cached model')
    ap.add_argument('--cache', default=str(ROOT / '_build' / 'bench'), help='folder for the cached model')
    a = ap.parse_args(argv)
    os.environ['SRDDPM_PROFILE'] = a.profile              # read by for_profile: set before sizes are chosen
    import torch
    from safetensors.torch import save_file, load_file
    from srddpm.core import for_profile, seed_everything, get_device
    from srddpm.data import digits_split
    from srddpm.diffusion import NoiseSchedule, train_diffusion
    from srddpm.unet import UNet, count_parameters, compare_samplers, sampler_table, nearest_neighbour_distance

    device = get_device()
    # the chapter's digits U-Net and training budget (nbs/11_unet.ipynb)
    cfg = dict(in_ch=1, **for_profile(ci=dict(base_ch=16, ch_mults=[1, 2], num_res_blocks=1, attn_resolutions=[2]),
                                      book=dict(base_ch=16, ch_mults=[1, 2], num_res_blocks=1, attn_resolutions=[2]),
                                      full=dict(base_ch=64, ch_mults=[1, 2, 2], num_res_blocks=2, attn_resolutions=[2])))
    (n_steps, batch_size), T = for_profile(ci=(200, 32), book=(1200, 64), full=(20_000, 128)), 1000
    n_images = a.n_images or for_profile(ci=16, book=64, full=256)
    seed_everything(0)
    train, _ = digits_split(size=16)
    x_train = train.tensors[0]
    schedule = NoiseSchedule.make('linear', T)

    cache = Path(a.cache)
    tag = f"unet_digits_{a.profile}"
    meta = dict(config=UNet(**cfg).config, train_steps=n_steps, batch_size=batch_size, T=T, schedule='linear')
    wfile, mfile = cache / f'{tag}.safetensors', cache / f'{tag}.json'
    model = UNet(**cfg)
    if not a.retrain and wfile.is_file() and mfile.is_file() and json.loads(mfile.read_text()) == meta:
        model.load_state_dict(load_file(str(wfile)))
        trained = f'loaded from {wfile.relative_to(ROOT) if wfile.is_relative_to(ROOT) else wfile}'
    else:
        hist = train_diffusion(model, x_train, schedule, n_steps=n_steps, batch_size=batch_size, lr=1e-3,
                               ema_decay=for_profile(ci=0.98, book=0.99, full=0.9995), warmup_steps=50,
                               lr_decay='cosine', seed=0, device=device, desc='training the U-Net once')
        model = hist['ema']
        cache.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(wfile))
        mfile.write_text(json.dumps(meta))
        trained = f'trained now ({n_steps} steps, {hist["seconds"]:.0f} s), cached in {cache}'
    model = model.to(device).eval()

    try: cores = len(os.sched_getaffinity(0))
    except AttributeError: cores = os.cpu_count()
    print(f'# sampling benchmark: DDPM-T vs DDIM on one digits U-Net')
    print(f'# machine : {cpu_name()}, {cores} usable cores ({os.cpu_count()} online), {platform.system()} {platform.machine()}')
    print(f'# torch   : {torch.__version__}, {torch.get_num_threads()} threads, device {device}'
          + (f' ({torch.cuda.get_device_name(device)})' if device.type == 'cuda' else ''))
    print(f'# profile : {a.profile}; U-Net {cfg} = {count_parameters(model, trainable_only=False):,} parameters; {trained}')
    print(f'# sampling: {n_images} images of 1x16x16 per sampler, same seed, x0 clipped to [-1, 1], one untimed warm-up call each')
    print('# note    : wall-clock times; on a shared machine they include time stolen by other processes\n')
    rows = compare_samplers(model, schedule, (n_images, 1, 16, 16), seed=1, show_progress=False)
    for r in rows: r['nn'] = float(nearest_neighbour_distance(r['samples'], x_train).mean())
    print(sampler_table(rows, extra={'NN distance': 'nn'}))

if __name__ == '__main__':
    sys.exit(main())
