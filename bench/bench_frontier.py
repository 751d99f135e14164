"""The speed-quality frontier of SRDDPM's denoiser on the held-out photographs, at full size.

Trains one L1 encoder (stage 0) and then, on top of that same frozen encoder, the diffusion stage once for each
denoiser layout below: same data, steps, learning rate and seed. Each model is then scored on the held-out photos
(the cat and the flower, whole) by `upscale` with its tiles, for several numbers of DDIM steps, with 3 iterations
of back-projection. Printed per row: denoiser GFLOP per output megapixel per step (torch's FLOP counter), steps,
seconds per output megapixel on this machine, peak memory of the upscale above what the process held before it
(the RSS high-water mark, reset before each row), PSNR-Y, SSIM-Y, texture distance and LR-consistency. A second table times one model with channels_last
weights against the default layout. Nothing is asserted.

    python bench/bench_frontier.py [--enc-steps 3000] [--diff-steps 1500] [--steps 5,10,20,50] [--out runs/frontier]

Trained models are kept under --out (one folder each) and reused by later runs.
"""
import argparse, copy, dataclasses, json, os, platform, time
from pathlib import Path
import numpy as np
import torch
from srddpm.core import seed_everything, image_to_tensor
from srddpm.architecture import SRDDPM, SRDDPMConfig, denoiser_gflop
from srddpm.recipe import RecipeConfig, build_dataset, encoder_loss, make_diffusion_loss, evaluate_methods
from srddpm.recipe import save_srddpm, load_srddpm
from srddpm.training import Trainer
from srddpm.sr_data import valid_images
from srddpm.inference import upscale, PeakMemory

# (name, overrides of the denoiser config, prediction type); the book's preset is 'local f=2, 32 ch, v'
LAYOUTS = [
    ('local f=2, 32 ch, v', dict(space_to_depth=2), 'v'),
    ('local f=2, 32 ch, x0', dict(space_to_depth=2), 'x0'),
    ('local f=4, 64 ch, v', dict(space_to_depth=4, base_ch=64), 'v'),
    ('local f=1, 32 ch, v', dict(space_to_depth=1), 'v'),
]

def train(cfg, enc_state, ds, steps, seed, name):
    seed_everything(seed)
    model = SRDDPM(copy.deepcopy(cfg))
    model.encoder.load_state_dict(enc_state)
    model.freeze_encoder()
    base = RecipeConfig.for_profile('book').stage('diffusion')
    tc = dataclasses.replace(base, n_steps=steps, checkpoint_every=0, out_dir=None,
                             warmup_steps=min(base.warmup_steps, steps // 10))
    t = time.perf_counter()
    tr = Trainer(model, make_diffusion_loss('l1'), ds, tc)
    tr.fit(show_progress=False)
    if tr.ema is not None: tr.ema.copy_to(model)
    model.freeze_encoder()
    print(f'  {name}: {steps} diffusion steps in {time.perf_counter() - t:.0f} s', flush=True)
    return model.eval(), time.perf_counter() - t

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--enc-steps', type=int, default=3000)
    ap.add_argument('--encoder-from', type=Path, help='take the frozen encoder from this model folder instead of training one')
    ap.add_argument('--diff-steps', type=int, default=1500)
    ap.add_argument('--steps', default='5,10,20,50', help='DDIM steps to score')
    ap.add_argument('--tile', type=int, default=128)
    ap.add_argument('--overlap', type=int, default=16)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--layouts', default='', help='comma-separated indices into LAYOUTS (default: all)')
    ap.add_argument('--out', type=Path, default=Path('runs/frontier'))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    os.environ.setdefault('SRDDPM_PROGRESS', '0')
    a.out.mkdir(parents=True, exist_ok=True)
    rc = RecipeConfig.for_profile('book')
    rc.data.patch_size = 64
    ds = build_dataset(rc)
    images = valid_images(4)
    # stage 0, shared by every layout
    enc_file = a.out / f'encoder_{a.enc_steps}.pt'
    if a.encoder_from:
        enc_state = load_srddpm(a.encoder_from, 'cpu').encoder.state_dict()
        a.enc_steps = f'{a.encoder_from}'
    elif enc_file.is_file(): enc_state = torch.load(enc_file, weights_only=True)
    else:
        seed_everything(0)
        m = SRDDPM(SRDDPMConfig.for_profile('book'))
        base = rc.stage('encoder')
        tc = dataclasses.replace(base, n_steps=a.enc_steps, checkpoint_every=0, out_dir=None,
                                 warmup_steps=min(100, a.enc_steps // 10), ema_decay=0.999)
        t = time.perf_counter()
        tr = Trainer(m.encoder, encoder_loss, ds, tc); tr.fit(show_progress=False)
        if tr.ema is not None: tr.ema.copy_to(m.encoder)
        print(f'  encoder: {a.enc_steps} steps in {time.perf_counter() - t:.0f} s', flush=True)
        enc_state = m.encoder.state_dict(); torch.save(enc_state, enc_file)
    steps = [int(s) for s in a.steps.split(',')]
    chosen = [LAYOUTS[int(i)] for i in a.layouts.split(',')] if a.layouts else LAYOUTS
    rows, models = [], {}
    for name, over, pred in chosen:
        cfg = SRDDPMConfig.for_profile('book', prediction_type=pred)
        for k, v in over.items(): setattr(cfg.denoiser, k, v)
        cfg = SRDDPMConfig.from_dict(cfg.to_dict())
        folder = a.out / f"{name.replace(' ', '').replace(',', '_').replace('=', '')}_{a.diff_steps}"
        if (folder / 'model.safetensors').is_file(): model, train_s = load_srddpm(folder, 'cpu'), float('nan')
        else:
            model, train_s = train(cfg, enc_state, ds, a.diff_steps, 1, name)
            save_srddpm(model, folder)
        models[name] = model
        gf = denoiser_gflop(model.config)
        for n in steps:
            fn = lambda lr, n=n: upscale(lr, 'srddpm', model, 4, n_steps=n, tile=a.tile, overlap=a.overlap, project=3,
                                         generator=torch.Generator().manual_seed(0), show_progress=False)
            with PeakMemory() as pm:
                res = [r for r in evaluate_methods({name: fn}, images, 4, lpips=False, verbose=False) if r['image'] == 'mean']
            mp = sum(v.shape[0] * v.shape[1] for v in images.values()) / 1e6
            secs = res[0]['seconds'] * len(images)
            rows.append(dict(layout=name, gflop=gf, steps=n, s_per_mp=secs / mp, above=pm.mb, **res[0]))
            r = rows[-1]
            print(f"  {name} DDIM-{n}: {r['psnr_y']:.2f} dB, {r['s_per_mp']:.0f} s/MP", flush=True)
    base_rows = [r for r in evaluate_methods({'bicubic': lambda lr: upscale(lr, 'bicubic', scale=4),
                                              'regression': lambda lr: upscale(lr, 'regression', models[chosen[0][0]], 4,
                                                                               project=3)},
                                             images, 4, lpips=False, verbose=False) if r['image'] == 'mean']
    sizes = ', '.join(f'{k} {v.shape[1]}x{v.shape[0]}' for k, v in images.items())
    print(f'\n# SRDDPM x4 speed-quality frontier | encoder: {a.enc_steps} (steps, or the folder it came from); '
          f'diffusion {a.diff_steps} steps per layout, '
          f'64-px patches, batch 16 | {platform.processor() or platform.machine()} CPU, {a.threads} threads, '
          f'torch {torch.__version__} | load average {os.getloadavg()[0]:.1f} | held-out photos at full size ({sizes}), '
          f'tile {a.tile} / overlap {a.overlap} LR px, DDIM + 3 back-projections')
    print('| denoiser | GFLOP / MP / step | steps | s / output MP | peak memory of upscale (MB) | PSNR-Y (dB) | SSIM-Y '
          '| texture dist. (dB) ↓ | LR-PSNR (dB) |')
    print('|---|---|---|---|---|---|---|---|---|')
    for r in base_rows:
        print(f"| {r['method'] + (' + BP3' if r['method'] == 'regression' else '')} | – | – | – | – | {r['psnr_y']:.2f} | {r['ssim_y']:.4f} "
              f"| {r['texture']:.2f} | {r['lr_psnr']:.2f} |")
    for r in rows:
        print(f"| {r['layout']} | {r['gflop']:.0f} | {r['steps']} | {r['s_per_mp']:.1f} | {r['above']:.0f} "
              f"| {r['psnr_y']:.2f} | {r['ssim_y']:.4f} | {r['texture']:.2f} | {r['lr_psnr']:.2f} |")
    # a lever that changes speed, not the result: the memory layout of the weights and activations
    model = models[chosen[0][0]]
    lr = image_to_tensor(np.asarray(next(iter(images.values()))), (-1, 1))[None]
    lr = lr[..., ::4, ::4].contiguous()
    n = 10
    def timed(m):
        t = time.perf_counter()
        upscale(lr, 'srddpm', m, 4, n_steps=n, tile=a.tile, overlap=a.overlap,
                generator=torch.Generator().manual_seed(0), show_progress=False)
        return time.perf_counter() - t
    cl = copy.deepcopy(model).to(memory_format=torch.channels_last)
    timed(model); timed(cl)
    print(f'\n| memory layout ({chosen[0][0]}, DDIM-{n}, one held-out photo, best of 3) | seconds |')
    print('|---|---|')
    print(f'| contiguous (NCHW, the default) | {min(timed(model) for _ in range(3)):.2f} |')
    print(f'| channels_last weights | {min(timed(cl) for _ in range(3)):.2f} |')

if __name__ == '__main__': main()
