"""Chapter 25's quality table for the shipped weights (or any run): every SRDDPM sampler against bicubic and the
regression, on the held-out photographs at full size, each learned method followed by 3 back-projections; the
texture control's shallow starts (`--textures`) on the command line's chain, and the command line's defaults (texture
UPSCALE_TEXTURE with the smooth gate).

    python bench/bench_quality.py                          # the weights shipped with the package
    python bench/bench_quality.py --steps 5 --textures 0.7,0.4,0.2   # the texture control's frontier
    python bench/bench_quality.py --run RUN_DIR            # a folder written by `srddpm train` (final/, and
                                                           # stage1_model/ when the SRGAN stage ran: the +GAN row)
"""
import argparse, os, platform
from pathlib import Path
import torch
from srddpm.recipe import load_srddpm, evaluate_methods, format_table, standard_methods
from srddpm.sr_data import valid_images
from srddpm.cli import default_checkpoint
from srddpm.inference import UPSCALE_STEPS

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--run', type=Path, help='a training run folder or a model folder (default: the shipped weights)')
    ap.add_argument('--steps', default=f'5,10,{UPSCALE_STEPS},50', help='DDIM steps, comma-separated')
    ap.add_argument('--textures', default='', help='shallow starts, comma-separated textures in (0, 1)')
    ap.add_argument('--no-ddpm', action='store_true', help='leave out DDPM over all T steps (the slowest row)')
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    run = a.run or default_checkpoint()
    if run is None: ap.error('no weights are shipped with this installation: give --run DIR')
    gan = None
    if (run / 'stage1_model').is_dir():                 # the SRGAN stage ran: final/ is the +GAN model
        model, gan = load_srddpm(run / 'stage1_model', 'cpu'), load_srddpm(run / 'final', 'cpu')
    else: model = load_srddpm(run / 'final' if (run / 'final').is_dir() else run, 'cpu')
    images = valid_images(model.config.scale)
    steps = sorted({int(s) for s in a.steps.split(',')})
    print(f'# SRDDPM x{model.config.scale} ({run}) on the held-out photos at full size '
          f'({", ".join(f"{k} {v.shape[1]}x{v.shape[0]}" for k, v in images.items())}) | '
          f'{platform.processor() or platform.machine()} CPU, {a.threads} threads | load average {os.getloadavg()[0]:.1f}')
    textures = [float(x) for x in a.textures.split(',') if x]
    methods = standard_methods(model, model.config.scale, steps=steps, ddpm=not a.no_ddpm, n_average=4, gan_model=gan,
                               textures=textures, defaults=True)
    rows = evaluate_methods(methods, images, model.config.scale, verbose=False)
    print(format_table([r for r in rows if r['image'] == 'mean'])); print()
    print(format_table([r for r in rows if r['image'] != 'mean']))

if __name__ == '__main__': main()
