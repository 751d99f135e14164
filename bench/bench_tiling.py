"""Peak memory of tiled upscaling vs tile size, for the same image (issue 8, item 4).

Each tile size runs in a fresh subprocess (so the peak is that run's alone) and reports its peak resident
memory (resource.getrusage maxrss) minus the RSS after the model and image are loaded.

    python bench/bench_tiling.py [--size 128] [--method srddpm|regression] [--steps 2] [--profile book]
"""
import argparse, json, os, platform, subprocess, sys

CHILD = r'''
import json, resource, sys, time, torch
from srddpm.architecture import SRDDPM, SRDDPMConfig
from srddpm.inference import upscale
a = json.loads(sys.argv[1])
torch.set_num_threads(a['threads']); torch.manual_seed(0)
model = SRDDPM(SRDDPMConfig.for_profile(a['profile'])).eval()
lr = torch.rand(1, 3, a['size'], a['size']) * 2 - 1
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
out = upscale(lr, a['method'], model, 4, tile=a['tile'], overlap=8, n_steps=a['steps'], show_progress=False)
sec = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(dict(peak_mb=peak / 1024, extra_mb=(peak - base) / 1024, seconds=sec, shape=list(out.shape))))
'''

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--size', type=int, default=128, help='LR side in pixels (the HR side is 4x)')
    p.add_argument('--method', default='srddpm', choices=['srddpm', 'regression'])
    p.add_argument('--steps', type=int, default=2, help='DDIM steps (memory does not depend on it)')
    p.add_argument('--profile', default='book')
    p.add_argument('--tiles', default='16,32,64,0', help='tile sizes in LR pixels; 0 = untiled')
    p.add_argument('--threads', type=int, default=2)
    a = p.parse_args()
    print(f'# tiled upscaling x4 of a {a.size}x{a.size} LR image ({4 * a.size}x{4 * a.size} HR), method {a.method}, '
          f'{a.profile}-size model, overlap 8 | {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, '
          f'{a.threads} threads, Python {platform.python_version()}')
    print('| tile (LR px) | peak RSS (MB) | above baseline (MB) | seconds |')
    print('|---|---|---|---|')
    for tile in [int(t) for t in a.tiles.split(',')]:
        arg = json.dumps(dict(size=a.size, method=a.method, steps=a.steps, profile=a.profile, tile=tile or None, threads=a.threads))
        r = subprocess.run([sys.executable, '-c', CHILD, arg], capture_output=True, text=True)
        if r.returncode: print(f'| {tile or "none"} | failed: {r.stderr.strip().splitlines()[-1]} | | |'); continue
        d = json.loads(r.stdout.strip().splitlines()[-1])
        print(f'| {tile or "untiled"} | {d["peak_mb"]:.0f} | {d["extra_mb"]:.0f} | {d["seconds"]:.1f} |', flush=True)

if __name__ == '__main__': main()
