"""Seconds per output megapixel and peak memory of `srddpm upscale` with its defaults, for photos of several sizes.

Each row runs the command line exactly as a user does (`srddpm upscale IN -o OUT`, the shipped weights, the
default steps, tile and back-projection) in a fresh process, on an LR photo cut from the embedded retina
photograph (1411×1411). Printed: the output size, wall-clock seconds of the whole command (start-up and model
loading included) and per output megapixel, the peak resident memory of the process (its VmHWM) and the
denoiser's GFLOP per output megapixel per step. `--method bicubic` rows in the same run are the baseline: the
same command without a network. Nothing is asserted.

With `--app` (needs `pip install 'srddpm[app]'`), the same photos also go through the web app of `srddpm serve`
(started once, in its own process, with the same threads) and its `/upscale` API called with `gradio_client`, next
to the command line with the same options: the seconds of the whole command and of its upscaling alone (what it
prints), the API's round trip (upload, upscaling, PNG and slider images written, download) and the app's upscaling
alone (what its page prints). The app's overhead is its round trip minus its upscaling.

    python bench/bench_upscale.py [--sizes 125x125,250x250,500x500] [--threads 2] [--methods srddpm,bicubic] [--app]
"""
import argparse, json, os, platform, re, socket, subprocess, sys, tempfile, time, urllib.request
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
    ap.add_argument('--app', action='store_true', help='also through the web app and its API, beside the CLI')
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
    if a.app: return bench_app(a, photo, env, tmp)
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

def _crop(photo, size, tmp):
    w, h = (int(v) for v in size.split('x'))
    y0, x0 = (photo.shape[0] - h) // 2, (photo.shape[1] - w) // 2
    if y0 < 0 or x0 < 0: raise SystemExit(f'{size}: larger than the retina photograph {photo.shape[1]}x{photo.shape[0]}')
    src = tmp / f'photo_{w}x{h}.png'
    Image.fromarray(photo[y0:y0 + h, x0:x0 + w]).save(src)
    return src, w, h

def bench_app(a, photo, env, tmp):
    "The same photos through `srddpm upscale` and through the `/upscale` API of `srddpm serve`, side by side."
    from gradio_client import Client, handle_file
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, '-m', 'srddpm.cli', 'serve', '--port', str(port), '-q'], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f'http://127.0.0.1:{port}/'
    try:
        for _ in range(600):
            try: urllib.request.urlopen(url, timeout=2); break
            except OSError: time.sleep(0.5)
        client = Client(url, verbose=False)
        rows = []
        for size in a.sizes.split(','):
            src, w, h = _crop(photo, size, tmp)
            for method in a.methods.split(','):
                t = time.perf_counter()
                r = subprocess.run([sys.executable, '-m', 'srddpm.cli', 'upscale', str(src), '-o', str(tmp / 'cli.png'),
                                    '--method', method], capture_output=True, text=True, env=env)
                cli = time.perf_counter() - t
                if r.returncode: print(f'{method} {size}: CLI failed: {r.stderr.strip()[-300:]}'); continue
                cli_up = float(re.search(rf'{method}, ([\d.]+) s', r.stdout).group(1))
                t = time.perf_counter()
                png, _, info = client.predict(handle_file(str(src)), method=method, api_name='/upscale')
                api = time.perf_counter() - t
                app_up = float(re.search(r': ([\d.]+) s \(', info).group(1))
                same = Path(png).read_bytes() == (tmp / 'cli.png').read_bytes()
                rows.append((method, f'{w}x{h}', 16 * w * h / 1e6, cli, cli_up, api, app_up, same))
                print(f'  {method} {size}: CLI {cli:.1f} s ({cli_up:.1f} s upscaling), API {api:.1f} s '
                      f'({app_up:.1f} s upscaling), same image: {same}', flush=True)
    finally:
        server.terminate(); server.wait(timeout=30)
    print(f'\n# `srddpm upscale` and the `/upscale` API of `srddpm serve`, defaults | '
          f'{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {a.threads} threads | '
          f'load average {os.getloadavg()[0]:.1f}')
    print('| method | input | output MP | CLI command (s) | CLI upscaling (s) | API round trip (s) | app upscaling (s) '
          '| app overhead (s) | API / CLI upscaling | same image |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    for m, size, mp, cli, cli_up, api, app_up, same in rows:
        print(f'| {m} | {size} | {mp:.2f} | {cli:.1f} | {cli_up:.1f} | {api:.1f} | {app_up:.1f} | {api - app_up:.1f} '
              f'| {api / cli_up:.2f} | {"yes" if same else "NO"} |')

if __name__ == '__main__': main()
