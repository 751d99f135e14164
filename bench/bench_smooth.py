"""Does `srddpm upscale` invent texture where the photo has none? Smooth images and the held-out photographs,
scored against the bicubic enlargement of the same LR.

The smooth set (every image is its own HR; the LR is made from it):
- `gradient`: a generated 512×512 colour gradient with a slow ripple (no detail at any scale);
- `blurred <photo>`: an embedded photograph blurred with a Gaussian of 4 px (a soft photo);
- `enlarged <photo>`: an embedded photograph shrunk 4× and enlarged 4× again with Pillow's bicubic (an image
  that is itself an enlargement, as users' already-resized images are).
Each smooth image's LR is made two ways, since users' images come from anywhere: by `make_lr` (the book's
degradation, MATLAB-style bicubic) and by Pillow's `Image.resize(..., BICUBIC)`. The held-out photographs
(`valid_images`, full size) use `make_lr`.

Every method runs through `srddpm.inference.upscale_photo`, the service behind the command line and the web app,
with the command line's defaults (the shipped weights; `--method` srddpm, regression, bicubic). Printed per image
and method: PSNR-Y and SSIM-Y against the HR (the scale's border cropped), their difference from bicubic's, the
RMS error in 8-bit levels, the texture distance (mean |dB| difference of the radial power spectra above the LR
Nyquist frequency: invented or missing high frequency) and the seconds of the upscale. Nothing is asserted.

`--textures 1,0.5` adds a row per texture of the shallow start (`--texture` of the command line) to the srddpm
method; the default is the command line's default texture alone. `--keep-smooth off` (or `both`) runs the model
methods without (and with) the bicubic fallback where the LR image shows no detail (`smooth_gate`; on by default,
as in the command line).

    python bench/bench_smooth.py [--methods srddpm,regression,bicubic] [--textures 1,0.5]
                                 [--keep-smooth on|off|both] [--threads 2] [--only smooth|photos]
"""
import argparse, os, platform, time
import numpy as np
from PIL import Image


def gradient(size: int = 512) -> np.ndarray:
    "A smooth colour gradient with a slow ripple (uint8 size×size×3)."
    y, x = np.mgrid[0:size, 0:size] / (size - 1)
    r = 0.15 + 0.7 * x
    g = 0.2 + 0.6 * y + 0.05 * np.sin(2 * np.pi * (x + y))
    b = 0.8 - 0.5 * (x * y) + 0.05 * np.cos(3 * np.pi * x)
    return np.round(np.clip(np.stack([r, g, b], -1), 0, 1) * 255).astype(np.uint8)


def blurred(img: np.ndarray, sigma: float = 4.0) -> np.ndarray:
    from skimage.filters import gaussian
    return np.round(gaussian(img / 255.0, sigma=sigma, channel_axis=-1) * 255).astype(np.uint8)


def enlarged(img: np.ndarray, scale: int = 4) -> np.ndarray:
    "Shrunk `scale`× and enlarged back with Pillow's bicubic: an image that is itself an enlargement."
    h, w = img.shape[:2]
    small = Image.fromarray(img).resize((w // scale, h // scale), Image.BICUBIC)
    return np.asarray(small.resize((w // scale * scale, h // scale * scale), Image.BICUBIC))


def lr_make_lr(hr: np.ndarray, scale: int) -> np.ndarray:
    import torch
    from srddpm.core import image_to_tensor, tensor_to_image
    from srddpm.data import make_lr
    with torch.no_grad():
        return tensor_to_image(make_lr(image_to_tensor(hr, (-1, 1))[None], scale, quantize=True)[0], (-1, 1))


def lr_pillow(hr: np.ndarray, scale: int) -> np.ndarray:
    h, w = hr.shape[:2]
    return np.asarray(Image.fromarray(hr).resize((w // scale, h // scale), Image.BICUBIC))


def smooth_set(scale: int) -> dict:
    "{name: HR uint8}, every side a multiple of `scale`."
    from srddpm.data import load_photo, modcrop
    out = {'gradient': gradient()}
    for name in ('coffee', 'astronaut'):
        photo = modcrop(load_photo(name), scale)
        out[f'blurred {name}'] = blurred(photo)
        out[f'enlarged {name}'] = modcrop(enlarged(photo, scale), scale)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--methods', default='srddpm,regression,bicubic')
    ap.add_argument('--textures', default=None,
                    help="comma-separated textures in [0, 1] for srddpm (default: the command line's)")
    ap.add_argument('--keep-smooth', choices=('on', 'off', 'both'), default='on',
                    help='the bicubic fallback where the LR shows no detail (default on, as the CLI)')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--only', choices=('smooth', 'photos'), help='one half of the table')
    a = ap.parse_args()
    os.environ.setdefault('OMP_NUM_THREADS', str(a.threads))
    import torch
    torch.set_num_threads(a.threads)
    from srddpm.cli import default_checkpoint
    from srddpm.recipe import load_srddpm
    from srddpm.sr_data import valid_images
    from srddpm.inference import upscale_photo, UpscaleOptions, texture_distance, UPSCALE_TEXTURE
    from srddpm.metrics import psnr, ssim
    model = load_srddpm(default_checkpoint(), 'cpu')
    scale = model.config.scale
    cases = []           # (set, image, lr source, HR, LR)
    if a.only != 'photos':
        for name, hr in smooth_set(scale).items():
            cases.append(('smooth', name, 'make_lr', hr, lr_make_lr(hr, scale)))
            cases.append(('smooth', name, 'Pillow', hr, lr_pillow(hr, scale)))
    if a.only != 'smooth':
        for name, hr in valid_images(scale).items():
            cases.append(('photos', name, 'make_lr', hr, lr_make_lr(hr, scale)))
    textures = [float(x) for x in a.textures.split(',')] if a.textures else [UPSCALE_TEXTURE]
    gates = {'on': [True], 'off': [False], 'both': [True, False]}[a.keep_smooth]
    methods = []         # (label, options)
    for m in a.methods.split(','):
        for gate in gates if m != 'bicubic' else [False]:
            tag = '' if len(gates) == 1 or m == 'bicubic' else (' +gate' if gate else ' no gate')
            if m == 'srddpm':
                methods += [((m if len(textures) == 1 else f'srddpm τ={x:g}') + tag,
                             dict(method=m, texture=x, keep_smooth=gate)) for x in textures]
            else: methods.append((m + tag, dict(method=m, keep_smooth=gate)))
    if 'bicubic' not in a.methods.split(','): methods.append(('bicubic', dict(method='bicubic')))
    print(f'# {platform.node()}: {os.cpu_count()} CPUs, {a.threads} threads, torch {torch.__version__}, '
          f'load average {os.getloadavg()[0]:.1f}, {time.strftime("%Y-%m-%d %H:%M")}')
    print('| set | image | LR by | size | method | PSNR-Y | Δ bicubic | SSIM-Y | Δ bicubic | RMSE (levels) '
          '| texture | s |')
    print('|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|')
    worst = {}
    for group, name, source, hr, lr in cases:
        rows = {}
        for m, kw in methods:
            t = time.perf_counter()
            sr = upscale_photo(lr, UpscaleOptions(scale=scale, **kw), model=model).image
            sec = time.perf_counter() - t
            rmse = float(np.sqrt(np.mean((sr.astype(np.float64) - hr) ** 2)))
            rows[m] = dict(p=psnr(sr, hr, crop_border=scale, y_channel=True),
                           s=ssim(sr, hr, crop_border=scale, y_channel=True), rmse=rmse,
                           tex=texture_distance(sr, hr, scale), sec=sec)
        b = rows['bicubic']
        for m, _ in methods:
            r = rows[m]
            print(f"| {group} | {name} | {source} | {hr.shape[1]}×{hr.shape[0]} | {m} | {r['p']:.2f} | "
                  f"{r['p'] - b['p']:+.2f} | {r['s']:.4f} | {r['s'] - b['s']:+.4f} | {r['rmse']:.2f} | "
                  f"{r['tex']:.2f} | {r['sec']:.1f} |", flush=True)
            if m != 'bicubic':
                k = (group, m)
                worst[k] = min(worst.get(k, np.inf), r['p'] - b['p'])
    print()
    for (group, m), d in sorted(worst.items()):
        print(f'{group}: {m} is at worst {d:+.2f} dB PSNR-Y from bicubic')


if __name__ == '__main__':
    main()
