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

With `--profile` (one size, e.g. `--sizes 250x250`: a 1-MP output), the default upscale is taken apart instead, in
one process, each part timed where it runs: the process start (a fresh `python -c "import srddpm.cli"`), loading
the model, reading the PNG, the encoder (`SRDDPM.prepare`), every denoiser evaluation (by step of the chain), the
back-projection, the smooth gate, the rest of the tiling (noise, blending, the uint8 output) and writing the PNG.
`--variants` adds rows for other options in the same run, e.g. `--variants "texture=1,keep_smooth=0"` (the full
chain, no gate) as the baseline of the default.

    python bench/bench_upscale.py [--sizes 125x125,250x250,500x500] [--threads 2] [--methods srddpm,bicubic] [--app]
    python bench/bench_upscale.py --profile --sizes 250x250 [--variants "texture=1,keep_smooth=0"] [--threads 2]
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
    ap.add_argument('--profile', action='store_true', help='where the time of the default upscale goes')
    ap.add_argument('--variants', default='', help='with --profile: ";"-separated option sets, e.g. "texture=1"')
    a = ap.parse_args()
    if a.profile: return profile(a)
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

def _timed(parts, name, fn):
    "`fn` with its wall-clock seconds added to parts[name] at every call."
    def wrapped(*args, **kw):
        t = time.perf_counter()
        try: return fn(*args, **kw)
        finally: parts[name] = parts.get(name, 0.0) + time.perf_counter() - t
    return wrapped

def _options(text):
    "'texture=1,keep_smooth=0' -> UpscaleOptions keyword arguments."
    from srddpm.inference import UpscaleOptions
    from dataclasses import fields
    types = {f.name: f.type for f in fields(UpscaleOptions)}
    kw = {}
    for item in filter(None, text.split(',')):
        k, v = item.split('=')
        kw[k] = bool(int(v)) if 'bool' in str(types[k]) else (float(v) if 'float' in str(types[k]) else int(v))
    return kw

def profile(a):
    "Where the seconds of one default upscale go (see the module's docstring)."
    os.environ['OMP_NUM_THREADS'] = str(a.threads)
    env = dict(os.environ, SRDDPM_PROGRESS='0')
    t = time.perf_counter()
    subprocess.run([sys.executable, '-c', 'import srddpm.cli'], check=True, env=env)
    start = time.perf_counter() - t
    import torch
    torch.set_num_threads(a.threads)
    import srddpm.inference as inf
    from srddpm.cli import default_checkpoint, write_image_atomic
    from srddpm.recipe import load_srddpm
    from srddpm.data import load_photo, read_image
    tmp = Path(tempfile.mkdtemp(prefix='bench-profile-'))
    src, w, h = _crop(load_photo('retina'), a.sizes.split(',')[0], tmp)
    mp = 16 * w * h / 1e6
    t = time.perf_counter()
    model = load_srddpm(default_checkpoint(), 'cpu')
    load = time.perf_counter() - t
    variants = [''] + [v for v in a.variants.split(';') if v]
    print(f'# one upscale of a {w}x{h} photo (output {mp:.2f} MP) | {platform.processor() or platform.machine()}, '
          f'{os.cpu_count()} CPUs, {a.threads} threads, torch {torch.__version__} | load average '
          f'{os.getloadavg()[0]:.1f} | {time.strftime("%Y-%m-%d %H:%M")}')
    print(f'process start (import srddpm.cli): {start:.2f} s; model load: {load:.2f} s')
    for text in variants:
        opts = inf.UpscaleOptions(**_options(text))
        parts = {}
        img = _timed(parts, 'read PNG', read_image)(src, alpha=True)
        orig = dict(prepare=model.prepare, denoise=model.denoise, project=inf.lr_project, gate=inf.smooth_gate)
        step = {}
        def denoise(x, t_, cond):
            k = f'denoiser, t = {int(t_.reshape(-1)[0])}'
            t0 = time.perf_counter()
            try: return orig['denoise'](x, t_, cond)
            finally: step[k] = step.get(k, 0.0) + time.perf_counter() - t0
        model.prepare = _timed(parts, 'encoder (prepare)', orig['prepare'])
        model.denoise = denoise
        inf.lr_project = _timed(parts, 'back-projection', orig['project'])
        inf.smooth_gate = _timed(parts, 'smooth gate', orig['gate'])
        try:
            upscale_photo = inf.upscale_photo
            res = upscale_photo(img, opts, model=model)
        finally:
            del model.prepare, model.denoise
            inf.lr_project, inf.smooth_gate = orig['project'], orig['gate']
        _timed(parts, 'write PNG', write_image_atomic)(tmp / 'out.png', res.image)
        rows = [('read PNG', parts['read PNG']), ('encoder (prepare)', parts.get('encoder (prepare)', 0.0))]
        rows += sorted(step.items(), key=lambda kv: -int(kv[0].split('= ')[1]))
        rows += [(k, parts.get(k, 0.0)) for k in ('back-projection', 'smooth gate')]
        inside = sum(v for k, v in rows if k != 'read PNG')
        rows += [('tiles: noise, blending, uint8 (the rest)', res.seconds - inside), ('write PNG', parts['write PNG'])]
        total = start + load + sum(v for _, v in rows)
        label = text or 'the defaults'
        print(f'\n## {label}: {opts}')
        print('| part | seconds | share |')
        print('|---|---:|---:|')
        for k, v in [('process start', start), ('model load', load)] + rows:
            print(f'| {k} | {v:.2f} | {v / total:.0%} |')
        print(f'| **total (a command would take)** | **{total:.2f}** | {total / mp:.1f} s per output MP |')

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
