"""Seconds per output megapixel and peak memory of `srddpm upscale` with its defaults, for photos of several sizes.

Each row runs the command line exactly as a user does (`srddpm upscale IN -o OUT`, the shipped weights, the
default steps, tile and back-projection) in a fresh process, on an LR photo cut from the embedded retina
photograph (1411×1411). Printed: the output size, wall-clock seconds of the whole command (start-up and model
loading included) and per output megapixel, the peak resident memory of the process (its VmHWM) and the
denoiser's GFLOP per output megapixel per step. `--method bicubic` rows in the same run are the baseline: the
same command without a network. Nothing is asserted.

    python bench/bench_upscale.py [--sizes 125x125,250x250,500x500] [--threads 2] [--methods srddpm,bicubic]
"""
import argparse, json, os, platform, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np
from PIL import Image

CHILD = r'''
import json, sys
from srddpm.cli import main
code = main(sys.argv[1:])
hwm = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) / 1024
print(json.dumps(dict(code=code, peak_mb=hwm)), file=sys.stderr)
'''

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--sizes', default='125x125,250x250,500x500', help='LR sizes WxH (outputs are 16x the pixels)')
    ap.add_argument('--methods', default='srddpm,bicubic')
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args()
    from srddpm.data import load_photo
    from srddpm.cli import default_checkpoint
    from srddpm.recipe import load_srddpm
    from srddpm.architecture import denoiser_gflop
    from srddpm.inference import UPSCALE_STEPS, UPSCALE_TILE, UPSCALE_OVERLAP
    photo = load_photo('retina')
    gflop = denoiser_gflop(load_srddpm(default_checkpoint()).config)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), SRDDPM_PROGRESS='0')
    tmp = Path(tempfile.mkdtemp(prefix='bench-upscale-'))
    rows = []
    for size in a.sizes.split(','):
        w, h = (int(v) for v in size.split('x'))
        y0, x0 = (photo.shape[0] - h) // 2, (photo.shape[1] - w) // 2
        if y0 < 0 or x0 < 0: raise SystemExit(f'{size}: larger than the retina photograph {photo.shape[1]}x{photo.shape[0]}')
        src = tmp / f'photo_{w}x{h}.png'
        Image.fromarray(photo[y0:y0 + h, x0:x0 + w]).save(src)
        for method in a.methods.split(','):
            cmd = ['upscale', str(src), '-o', str(tmp / f'out_{method}.png'), '--method', method, '-q']
            t = time.perf_counter()
            r = subprocess.run([sys.executable, '-c', CHILD, *cmd], capture_output=True, text=True, env=env)
            sec = time.perf_counter() - t
            info = json.loads(r.stderr.strip().splitlines()[-1]) if r.stderr.strip() else {}
            if r.returncode or info.get('code'):
                print(f'{method} {size}: failed: {r.stderr.strip()[-300:]}', flush=True); continue
            mp = 16 * w * h / 1e6
            rows.append(dict(method=method, size=f'{w}x{h}', out=f'{4 * w}x{4 * h}', mp=mp, sec=sec, peak=info['peak_mb']))
            print(f'  {method} {size}: {sec:.1f} s, {sec / mp:.1f} s/MP, peak {info["peak_mb"]:.0f} MB', flush=True)
    print(f'\n# `srddpm upscale IN -o OUT` with its defaults (shipped weights, DDIM-{UPSCALE_STEPS}, tile {UPSCALE_TILE} / '
          f'overlap {UPSCALE_OVERLAP} LR px, 3 back-projections) | {platform.processor() or platform.machine()}, '
          f'{os.cpu_count()} CPUs, {a.threads} threads | load average {os.getloadavg()[0]:.1f}')
    print('| method | input | output | output MP | seconds | s / output MP | peak memory (MB) | denoiser GFLOP / MP / step |')
    print('|---|---|---|---|---|---|---|---|')
    for r in rows:
        g = f'{gflop:.0f}' if r['method'] == 'srddpm' else '–'
        print(f"| {r['method']} | {r['size']} | {r['out']} | {r['mp']:.2f} | {r['sec']:.1f} | {r['sec'] / r['mp']:.1f} "
              f"| {r['peak']:.0f} | {g} |")

if __name__ == '__main__': main()
