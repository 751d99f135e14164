"""The quality table of issue 8, item 5: bicubic, regression encoder, SRDDPM-DDPM, SRDDPM-DDIM (and +GAN) on the
held-out photographs, plus sampling seconds per image for DDPM-T vs DDIM-50 vs DDIM-20.

    python bench/bench_quality.py                          # the weights shipped with the package
    python bench/bench_quality.py --run RUN_DIR            # a folder written by train_srddpm / `srddpm train`
    python bench/bench_quality.py --train [--profile ci]   # train a quick model first (the profile's recipe)
"""
import argparse, os, platform, tempfile, time
from pathlib import Path
import torch
from srddpm.recipe import RecipeConfig, train_srddpm, load_srddpm, evaluate_methods, format_table, standard_methods
from srddpm.sr_data import valid_images
from srddpm.data import center_crop
from srddpm.inference import upscale
from srddpm.cli import default_checkpoint

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--run', type=Path, help='a training run folder (its final/ model is used) or a model folder')
    ap.add_argument('--train', action='store_true', help='train the profile recipe first')
    ap.add_argument('--profile', default=None)
    ap.add_argument('--crop', type=int, default=0, help='evaluate on a central crop of this HR size, as chapter 25 does (0 = whole photos)')
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.profile: os.environ['SRDDPM_PROFILE'] = a.profile
    if a.train:
        run = Path(tempfile.mkdtemp(prefix='srddpm-bench-'))
        t = time.perf_counter(); train_srddpm(RecipeConfig.for_profile(), run, show_progress=False)
        print(f'trained in {time.perf_counter() - t:.0f} s -> {run}')
    elif a.run: run = a.run
    else:
        run = default_checkpoint()
        if run is None: ap.error('no weights are shipped with this installation: give --run DIR or --train')
        print(f'the shipped weights: {run}')
    model = load_srddpm(run / 'final' if (run / 'final').is_dir() else run, device='cpu')
    images = valid_images(model.config.scale)
    if a.crop: images = {k: center_crop(v, a.crop) for k, v in images.items()}
    print(f'# SRDDPM x{model.config.scale} on the held-out photos ({", ".join(f"{k} {v.shape[1]}x{v.shape[0]}" for k, v in images.items())}) | '
          f'{platform.processor() or platform.machine()} CPU, '
          f'{a.threads} threads | load average {os.getloadavg()[0]:.1f}')
    methods = standard_methods(model, model.config.scale, ddim_steps=20, ddpm=True, project=3)
    # the mean of 4 samples moves towards the conditional mean: more PSNR, less texture (chapter 24)
    methods['SRDDPM-DDIM-20 mean of 4+BP3'] = lambda lr: upscale(lr, 'srddpm', model, model.config.scale, n_steps=20, n_average=4,
                                                                 generator=torch.Generator().manual_seed(0), show_progress=False, project=3)
    rows = evaluate_methods(methods, images, model.config.scale, verbose=False)
    print(format_table(rows)); print()
    # sampling cost: DDPM-T vs DDIM-50 vs DDIM-20 (seconds per image, mean over the photos)
    T = model.config.T
    speed = standard_methods(model, model.config.scale, ddim_steps=50, ddpm=False)
    rows50 = evaluate_methods({k: v for k, v in speed.items() if 'DDIM' in k}, images, model.config.scale, lpips=False, verbose=False)
    mean = {r['method']: r for r in rows + rows50 if r['image'] == 'mean'}
    ddpm = mean[f'SRDDPM-DDPM-{T}']['seconds']
    print('| sampler | network evaluations | seconds / image | ratio to DDPM | PSNR-Y (dB) | texture dist. (dB) |')
    print('|---|---|---|---|---|---|')
    for k, n in ((f'SRDDPM-DDPM-{T}', T), ('SRDDPM-DDIM-50', min(50, T)), ('SRDDPM-DDIM-20', 20)):
        r = mean[k]
        print(f"| {k} | {n} | {r['seconds']:.2f} | {r['seconds'] / ddpm:.2f} | {r['psnr_y']:.2f} | {r['texture']:.2f} |")

if __name__ == '__main__': main()
