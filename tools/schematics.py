"""Draw the book's teaching schematics, one per part, as SVG files in srddpm/figures/ (package data).

    python tools/schematics.py                  # (re)write srddpm/figures/*.svg
    python tools/schematics.py --preview DIR    # also render each SVG in headless Chromium at 700 px wide -> DIR/*.png

The figures are drawn with matplotlib (text as paths in DejaVu Sans, which matplotlib ships, so
they look the same in every browser) from fixed seeds: running the script again rewrites the same
files. The thumbnails are computed here: a real forward diffusion chain on scikit-image's cat,
scikit-learn's 8x8 digits, and bicubic degradation of the cat.

| file                  | chapter it teaches         | what it shows |
|-----------------------|----------------------------|---------------|
| diffusion_chain.svg   | 10_diffusion               | x_0 -> ... -> x_T with q one way, p_theta the other, and the one-jump q(x_t given x_0) |
| unet.svg              | 11_unet                    | levels, skip connections, the time embedding entering every residual block (and how) |
| gan_game.svg          | 13_gan                     | G(z), real data, D, the two losses and which network each one updates |
| srddpm.svg            | 21_architecture / 25_srddpm | LR -> RRDB encoder -> features + reference, the rescaled residual, the U-Net, SR, the 3 stages |
"""
from __future__ import annotations
import argparse, re, subprocess, sys, tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Circle, Rectangle

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / 'srddpm' / 'figures'     # package data: srddpm.core.schematic embeds them in the pages

plt.rcParams.update({
    'font.family': 'DejaVu Sans', 'mathtext.fontset': 'dejavusans', 'svg.fonttype': 'path',
    'svg.hashsalt': 'srddpm-schematics', 'font.size': 12, 'axes.unicode_minus': True,
})

# One palette for every figure: fill, edge.
BLUE = ('#dbe8f7', '#2f5d8c')      # networks that are trained first / data paths
GREEN = ('#dcefd8', '#3b7a35')     # the diffusion U-Net
ORANGE = ('#fde6cc', '#b5651d')    # time / noise
RED = ('#f8d9d6', '#a33a32')       # discriminator, adversarial
PURPLE = ('#e8def3', '#5e3f8a')    # losses
GREY = ('#f1f1f1', '#555555')      # data, plain operations
INK = '#222222'
MIN_FS = 10.5     # points; the figures are 9.6 in wide, so 10.5 pt is about 10 px when the book shows them 690 px wide

@dataclass
class Box:
    cx: float; cy: float; w: float; h: float
    @property
    def l(self): return (self.cx - self.w / 2, self.cy)
    @property
    def r(self): return (self.cx + self.w / 2, self.cy)
    @property
    def t(self): return (self.cx, self.cy + self.h / 2)
    @property
    def b(self): return (self.cx, self.cy - self.h / 2)
    def at(self, fx: float, fy: float):
        "A point of the box in box units: (-1, -1) bottom left, (1, 1) top right."
        return (self.cx + fx * self.w / 2, self.cy + fy * self.h / 2)

def canvas(w: float, h: float):
    "A figure of w x h inches whose data coordinates are inches (so sizes and fonts are easy to reason about)."
    fig = plt.figure(figsize=(w, h))
    ax = fig.add_axes((0, 0, 1, 1)); ax.set_xlim(0, w); ax.set_ylim(0, h); ax.set_axis_off()
    return fig, ax

def box(ax, cx, cy, w, h, text='', colors=GREY, fs=12, weight='normal', lw=1.5, ls='-', round_=0.08, z=2, color=INK):
    ax.add_patch(FancyBboxPatch((cx - w / 2, cy - h / 2), w, h, boxstyle=f'round,pad=0,rounding_size={round_}',
                                fc=colors[0], ec=colors[1], lw=lw, ls=ls, zorder=z))
    assert fs >= MIN_FS, f'{text!r}: {fs} pt is too small to read'
    if text: ax.text(cx, cy, text, ha='center', va='center', fontsize=fs, fontweight=weight, zorder=z + 1, color=color,
                     linespacing=1.35)
    return Box(cx, cy, w, h)

def arrow(ax, p0, p1, color=INK, lw=1.6, ls='-', rad=0.0, head=14, z=4, style='-|>'):
    ax.add_patch(FancyArrowPatch(p0, p1, arrowstyle=style, mutation_scale=head, color=color, lw=lw, ls=ls,
                                 shrinkA=0, shrinkB=0, connectionstyle=f'arc3,rad={rad}', zorder=z,
                                 joinstyle='miter', capstyle='butt'))

def path(ax, pts, color=INK, lw=1.6, ls='-', head=14, z=4):
    "A polyline through `pts` with an arrow head on its last segment."
    xs, ys = zip(*pts[:-1])
    ax.plot(xs, ys, color=color, lw=lw, ls=ls, zorder=z, solid_capstyle='butt', solid_joinstyle='miter')
    arrow(ax, pts[-2], pts[-1], color=color, lw=lw, ls=ls, head=head, z=z)

def text(ax, x, y, s, fs=12, ha='center', va='center', color=INK, **kw):
    assert fs >= MIN_FS, f'{s!r}: {fs} pt is too small to read'
    return ax.text(x, y, s, fontsize=fs, ha=ha, va=va, color=color, zorder=6, linespacing=1.35, **kw)

def image(ax, img, cx, cy, size, ec=GREY[1], cmap=None, z=3):
    "An image thumbnail of `size` inches, centred at (cx, cy), with a thin frame; returns its Box."
    ext = (cx - size / 2, cx + size / 2, cy - size / 2, cy + size / 2)
    ax.imshow(img, extent=ext, cmap=cmap, interpolation='nearest', zorder=z, vmin=0, vmax=1)
    ax.add_patch(Rectangle((ext[0], ext[2]), size, size, fill=False, ec=ec, lw=1.2, zorder=z + 1))
    return Box(cx, cy, size, size)

def save(fig, name: str) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / name
    fig.savefig(out, format='svg', metadata={'Date': None, 'Creator': 'tools/schematics.py (matplotlib)'})
    plt.close(fig)
    return out

# ---------------------------------------------------------------------------------------------- data
def _cat(size: int = 64) -> np.ndarray:
    "The chapters' held-out cat (scikit-image's chelsea), its face cropped square, resized, RGB in [0, 1]."
    from skimage import data, transform
    img = data.chelsea()[20:280, 90:350] / 255.0
    return np.clip(transform.resize(img, (size, size), anti_aliasing=True), 0, 1)

def _cosine_alpha_bar(T: int, s: float = 0.008) -> np.ndarray:
    "Nichol & Dhariwal's cosine schedule, as chapter 10 defines it: alpha_bar_t for t = 0..T."
    t = np.arange(T + 1) / T
    f = np.cos((t + s) / (1 + s) * np.pi / 2) ** 2
    return np.clip(f / f[0], 0, 1)

def forward_chain(x0: np.ndarray, keep: list[int], T: int = 1000, seed: int = 0) -> dict[int, np.ndarray]:
    "Run the forward Markov chain x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps_t (in [-1, 1] units); return the kept steps."
    rng = np.random.default_rng(seed)
    ab = _cosine_alpha_bar(T)
    beta = np.clip(1 - ab[1:] / ab[:-1], 0, 0.999)
    x, out = x0 * 2 - 1, {0: x0}
    for t in range(1, T + 1):
        x = np.sqrt(1 - beta[t - 1]) * x + np.sqrt(beta[t - 1]) * rng.standard_normal(x.shape)
        if t in keep: out[t] = np.clip((x + 1) / 2, 0, 1)
    return out

# ---------------------------------------------------------------------------------------------- (a)
def diffusion_chain() -> Path:
    W, H = 9.6, 4.45
    fig, ax = canvas(W, H)
    T, t = 1000, 300
    imgs = forward_chain(_cat(), keep=[1, t - 1, t, T], T=T)
    size, cy = 1.05, 2.2
    nodes = [(0.75, 0, r'$x_0$', 'data'), (2.35, 1, r'$x_1$', None), (3.55, None, r'$\cdots$', None),
             (4.75, t - 1, r'$x_{t-1}$', None), (6.35, t, r'$x_t$', None), (7.55, None, r'$\cdots$', None),
             (8.85, T, r'$x_T$', r'noise $\mathcal{N}(0, I)$')]
    boxes = []
    for x, step, label, note in nodes:
        if step is None:
            text(ax, x, cy, label, fs=20); boxes.append(Box(x, cy, 0.42, 0.3)); continue
        b = image(ax, imgs[step], x, cy, size); boxes.append(b)
        text(ax, x, cy - size / 2 - 0.22, label, fs=15)
        if note: text(ax, x, cy - size / 2 - 0.52, note, fs=11, color='#555555')
    fwd, rev = ORANGE[1], GREEN[1]
    for a, b in zip(boxes[:-1], boxes[1:]):
        y1, y2 = cy + 0.2, cy - 0.2
        arrow(ax, (a.r[0] + 0.06, y1), (b.l[0] - 0.06, y1), color=fwd, lw=1.8)
        arrow(ax, (b.l[0] - 0.06, y2), (a.r[0] + 0.06, y2), color=rev, lw=1.8)
    # the one step the labels explain: between x_{t-1} and x_t
    mid = (boxes[3].r[0] + boxes[4].l[0]) / 2
    text(ax, mid, cy + size / 2 + 0.2, r'$q(x_t \mid x_{t-1})$', fs=14, color=fwd)
    text(ax, mid, cy - size / 2 - 0.62, r'$p_\theta(x_{t-1} \mid x_t)$', fs=14, color=rev)
    arrow(ax, (mid, cy - size / 2 - 0.45), (mid, cy - 0.27), color=rev, lw=1.0, head=8)
    # what each direction is
    text(ax, 0.25, H - 0.3, 'forward process $q$: adds a little Gaussian noise per step (fixed, no parameters)',
         fs=12.5, ha='left', color=fwd)
    text(ax, 0.25, 0.55, r'reverse process $p_\theta$: a network removes the noise step by step (learned)',
         fs=12, ha='left', color=rev)
    # the closed form: any step in one jump
    yj = cy + size / 2 + 0.62
    x_end = boxes[4].cx + 0.2
    ax.plot([boxes[0].cx, boxes[0].cx, x_end], [boxes[0].t[1] + 0.06, yj, yj], color=fwd, lw=1.3, ls=(0, (4, 3)), zorder=3)
    arrow(ax, (x_end, yj), (x_end, boxes[4].t[1] + 0.06), color=fwd, lw=1.3, ls=(0, (4, 3)), head=11)
    text(ax, (boxes[0].cx + x_end) / 2, yj + 0.25,
         r'$q(x_t \mid x_0) = \mathcal{N}\!\left(\sqrt{\bar\alpha_t}\, x_0,\ (1-\bar\alpha_t)\, I\right)$: any step in one jump',
         fs=12.5, color=fwd)
    text(ax, 0.25, 0.2, f'thumbnails: one forward chain, T = {T}, cosine schedule, t = {t}', fs=10.5,
         ha='left', color='#666666')
    return save(fig, 'diffusion_chain.svg')

# ---------------------------------------------------------------------------------------------- (b)
def unet() -> Path:
    W, H = 9.6, 8.4
    fig, ax = canvas(W, H)
    ys = [6.55, 5.35, 4.15]                       # levels 0, 1, 2
    ymid = 2.95
    xd, xu, bw, bh = 2.35, 7.25, 2.3, 0.78
    sizes = [r'$H\times W$, $C$ channels', r'$H/2\times W/2$, $2C$', r'$H/4\times W/4$, $2C$']
    down, up = [], []
    for lvl, (y, s) in enumerate(zip(ys, sizes)):
        down.append(box(ax, xd, y, bw, bh, f'2 × ResBlock\n{s}', BLUE, fs=11.5))
        up.append(box(ax, xu, y, bw, bh, f'3 × ResBlock\n{s}', BLUE, fs=11.5))
    mid = box(ax, (xd + xu) / 2, ymid, 3.9, bh, 'middle: ResBlock → Attention → ResBlock\n' + r'$H/4\times W/4$',
              BLUE, fs=11.5)
    # input and output
    inp = box(ax, xd, 7.75, 2.75, 0.7, r'$x_t$' '\n' r'(+ condition $c$, concatenated)', GREY, fs=11)
    outb = box(ax, xu, 7.75, bw, 0.7, r'$\hat\epsilon$  (or $\hat x_0$, $\hat v$)', GREY, fs=12)
    arrow(ax, inp.b, down[0].t); text(ax, xd + 0.1, (inp.b[1] + down[0].t[1]) / 2, 'conv 3×3', fs=10.5, ha='left')
    arrow(ax, up[0].t, outb.b); text(ax, xu + 0.1, (up[0].t[1] + outb.b[1]) / 2, 'conv 3×3', fs=10.5, ha='left')
    # down / up path
    for lvl in range(2):
        arrow(ax, down[lvl].b, down[lvl + 1].t)
        text(ax, xd + 0.1, (down[lvl].b[1] + down[lvl + 1].t[1]) / 2, 'downsample ↓2', fs=10.5, ha='left')
        arrow(ax, up[lvl + 1].t, up[lvl].b)
        text(ax, xu + 0.1, (up[lvl].b[1] + up[lvl + 1].t[1]) / 2, 'upsample ↑2', fs=10.5, ha='left')
    path(ax, [down[2].b, (xd, ymid), mid.l])
    path(ax, [mid.r, (xu, ymid), up[2].b])
    # skip connections
    skip = '#6b6b6b'
    for lvl in range(3):
        arrow(ax, down[lvl].r, up[lvl].l, color=skip, lw=2.2, ls=(0, (6, 3)))
        text(ax, (xd + xu) / 2, ys[lvl] + 0.17, 'skip: concatenate', fs=10.5, color=skip)
    # the time embedding, along both sides, into every block
    te = box(ax, (xd + xu) / 2, 1.85, 5.6, 0.62, r'$t \;\to\;$ sinusoidal $e(t)$ $\;\to\;$ MLP $\;\to\;$ $t_\mathrm{emb}$',
             ORANGE, fs=12.5)
    o = ORANGE[1]
    xl, xr = 0.45, W - 0.45
    ax.plot([te.l[0], xl, xl], [te.cy, te.cy, ys[0]], color=o, lw=1.8, zorder=3)
    ax.plot([te.r[0], xr, xr], [te.cy, te.cy, ys[0]], color=o, lw=1.8, zorder=3)
    for lvl in range(3):
        arrow(ax, (xl, ys[lvl]), down[lvl].l, color=o, lw=1.8)
        arrow(ax, (xr, ys[lvl]), up[lvl].r, color=o, lw=1.8)
    arrow(ax, te.t, mid.b, color=o, lw=1.8)
    text(ax, xl + 0.08, 7.15, r'$t_\mathrm{emb}$', fs=12, color=o, ha='left')
    text(ax, xr - 0.08, 7.15, r'$t_\mathrm{emb}$', fs=12, color=o, ha='right')
    # inside a ResBlock
    ax.plot([0.3, W - 0.3], [1.4, 1.4], color='#bbbbbb', lw=1.0)
    text(ax, 0.3, 1.2, 'inside each ResBlock (scale-shift form):', fs=11.5, ha='left', weight='bold')
    y = 0.55
    b1 = box(ax, 1.15, y, 1.2, 0.56, 'GN, SiLU,\nconv 3×3', BLUE, fs=10.5)
    b2 = box(ax, 2.85, y, 1.85, 0.56, r'GN$(h)\,(1+\gamma) + \beta$', ORANGE, fs=11)
    b3 = box(ax, 4.75, y, 1.45, 0.56, 'SiLU, dropout,\nconv 3×3', BLUE, fs=10.5)
    plus = Circle((6.0, y), 0.2, fc='white', ec=INK, lw=1.5, zorder=3); ax.add_patch(plus)
    text(ax, 6.0, y, '+', fs=14)
    text(ax, 0.2, y, r'$x$', fs=13)
    arrow(ax, (0.33, y), b1.l); arrow(ax, b1.r, b2.l); arrow(ax, b2.r, b3.l); arrow(ax, b3.r, (5.8, y))
    arrow(ax, (6.2, y), (6.55, y)); text(ax, 6.62, y, 'out', fs=11.5, ha='left')
    ys_ = y - 0.45
    ax.plot([0.44, 0.44, 6.0], [y, ys_, ys_], color=INK, lw=1.2, zorder=3)
    arrow(ax, (6.0, ys_), (6.0, y - 0.2), lw=1.2, head=10)
    text(ax, 6.15, ys_, 'skip (1×1 conv if the channels change)', fs=10.5, color='#444444', ha='left')
    tb = box(ax, 8.3, y, 2.0, 0.56, r'$(\gamma, \beta)$ = Linear(SiLU($t_\mathrm{emb}$))', ORANGE, fs=10.5)
    path(ax, [tb.t, (tb.cx, 0.98), (b2.cx, 0.98), b2.t], color=o, lw=1.5, head=11)
    return save(fig, 'unet.svg')

# ---------------------------------------------------------------------------------------------- (c)
def _digits():
    from sklearn.datasets import load_digits
    d = load_digits()
    return d.images / 16.0, d.target

def gan_game() -> Path:
    W, H = 9.6, 5.0
    fig, ax = canvas(W, H)
    images, target = _digits()
    rng = np.random.default_rng(0)
    real = [images[np.flatnonzero(target == k)[0]] for k in (3, 7, 0)]
    from scipy.ndimage import gaussian_filter
    fake = [np.clip(gaussian_filter(images[np.flatnonzero(target == k)[3]], 0.9) + 0.25 * rng.standard_normal((8, 8)), 0, 1)
            for k in (5, 1, 8)]
    text(ax, W / 2, H - 0.32, r'$\min_G\,\max_D\;V(D,G) = \mathbb{E}_{x\sim p_\mathrm{data}}[\log D(x)]'
         r' + \mathbb{E}_{z\sim p_z}[\log(1 - D(G(z)))]$', fs=13.5)
    text(ax, W / 2, H - 0.78, 'The players take turns: a step on D with G fixed, then a step on G with D fixed.',
         fs=11, color='#444444')
    yr, yf, yd = 3.35, 1.95, 2.65
    z = box(ax, 0.85, yf, 1.3, 0.9, 'noise\n' + r'$z\sim\mathcal{N}(0, I)$', GREY, fs=11.5)
    g = box(ax, 2.75, yf, 1.5, 0.9, 'generator\n' + r'$G$', BLUE, fs=12.5, weight='bold')
    arrow(ax, z.r, g.l)
    sz, x0 = 0.6, 4.35
    fk = [image(ax, f, x0 + i * 0.7, yf, sz, cmap='gray_r') for i, f in enumerate(fake)]
    rl = [image(ax, r, x0 + i * 0.7, yr, sz, cmap='gray_r') for i, r in enumerate(real)]
    text(ax, x0 + 0.7, yf - sz / 2 - 0.2, r'fake samples $G(z)$', fs=11.5)
    text(ax, x0 + 0.7, yr + sz / 2 + 0.2, r'real data $x\sim p_\mathrm{data}$', fs=11.5)
    arrow(ax, g.r, (fk[0].l[0] - 0.08, yf))
    d = box(ax, 7.3, yd, 1.6, 0.95, 'discriminator\n' + r'$D$', RED, fs=12.5, weight='bold')
    arrow(ax, (fk[-1].r[0] + 0.08, yf), d.at(-1, -0.45))
    arrow(ax, (rl[-1].r[0] + 0.08, yr), d.at(-1, 0.45))
    o = box(ax, 8.95, yd, 0.95, 0.62, 'P(real)', GREY, fs=11.5)
    arrow(ax, d.r, o.l)
    # the losses, and which network each one updates
    p = PURPLE[1]
    lg = box(ax, 2.5, 0.5, 4.2, 0.7, r'$\mathcal{L}_G = -\mathbb{E}[\log D(G(z))]$  (non-saturating)'
             '\nG learns to fool D', PURPLE, fs=11)
    ld = box(ax, 7.3, 0.5, 4.2, 0.7, r'$\mathcal{L}_D = -\mathbb{E}[\log D(x)] - \mathbb{E}[\log(1 - D(G(z)))]$'
             '\nD learns to tell real from fake', PURPLE, fs=11)
    arrow(ax, (g.cx, lg.t[1]), g.b, color=p, lw=1.6, ls=(0, (4, 2)))
    text(ax, g.cx + 0.1, (lg.t[1] + g.b[1]) / 2, 'updates G (the gradient flows through D)', fs=10.5, color=p, ha='left')
    arrow(ax, (d.cx, ld.t[1]), d.b, color=p, lw=1.6, ls=(0, (4, 2)))
    text(ax, d.cx + 0.1, (ld.t[1] + d.b[1]) / 2 + 0.25, 'updates D', fs=10.5, color=p, ha='left')
    return save(fig, 'gan_game.svg')

# ---------------------------------------------------------------------------------------------- (d)
def _lr_hr_sr():
    "Thumbnails of the cat: HR, its bicubic LR (x4), a regression-like reference (bicubic up, mildly sharpened)."
    from skimage import transform, filters
    hr = _cat(64)
    lr = np.clip(transform.resize(hr, (16, 16), order=3, anti_aliasing=True), 0, 1)
    up = np.clip(transform.resize(lr, (64, 64), order=3), 0, 1)
    ref = np.clip(up + 0.6 * (up - filters.gaussian(up, 1.0, channel_axis=-1)), 0, 1)
    return hr, lr, ref

def srddpm() -> Path:
    W, H = 9.6, 8.0
    fig, ax = canvas(W, H)
    hr, lr, ref = _lr_hr_sr()
    res = hr - ref
    res_img = np.clip(0.5 + 2.5 * res.mean(-1), 0, 1)
    rng = np.random.default_rng(1)
    sz = 0.85
    # --- inference path: three lanes, so that no line crosses another
    text(ax, 0.25, H - 0.3, 'Upscaling an image', fs=12, ha='left', weight='bold')
    ytop, ymid = 6.75, 5.3
    xl = image(ax, lr, 0.55, ymid, 0.75)
    text(ax, 0.55, ymid - 0.375 - 0.2, r'LR image $x_\mathrm{LR}$', fs=10.5)
    enc = box(ax, 1.95, ymid, 1.3, 1.05, 'RRDB\nencoder ' + r'$f_\phi$', BLUE, fs=12, weight='bold')
    arrow(ax, xl.r, enc.l)
    feat = box(ax, 3.45, ymid, 1.2, 0.62, 'features\n(LR size)', BLUE, fs=10.5)
    cond = box(ax, 5.05, ymid, 1.55, 0.62, r'↑×$s/f$, conv 3×3' '\n' r'condition $c$', BLUE, fs=10.5)
    un = box(ax, 7.0, ymid, 1.9, 1.05, 'diffusion U-Net on\n' + r'$f{\times}f$ blocks: $f_\theta(r_t, t, [c, \mathrm{ref}])$', GREEN, fs=10.5)
    arrow(ax, enc.r, feat.l); arrow(ax, feat.r, cond.l); arrow(ax, cond.r, un.l)
    text(ax, cond.cx, cond.b[1] - 0.18, '(HR size / f)', fs=10.5, color='#555555')
    rf = image(ax, ref, 4.0, ytop, 0.75)
    text(ax, 4.0, ytop + 0.375 + 0.36, 'reference ref:', fs=10.5)
    text(ax, 4.0, ytop + 0.375 + 0.15, "the encoder's own SR", fs=10.5, color='#555555')
    xe = enc.at(0.3, 1)[0]
    path(ax, [enc.at(0.3, 1), (xe, ytop), rf.l])
    plus_x = 8.35
    plus = Circle((plus_x, ytop), 0.2, fc='white', ec=INK, lw=1.5, zorder=3); ax.add_patch(plus)
    text(ax, plus_x, ytop, '+', fs=14)
    arrow(ax, rf.r, (plus_x - 0.2, ytop))
    xb = un.at(-0.55, 1)[0]
    arrow(ax, (xb, ytop), (xb, un.t[1]), lw=1.4, head=11)                      # ref also conditions the U-Net
    ax.add_patch(Circle((xb, ytop), 0.035, color=INK, zorder=5))
    path(ax, [un.r, (plus_x, ymid), (plus_x, ytop - 0.2)])
    text(ax, plus_x + 0.08, (ymid + ytop) / 2 - 0.1, r'$\hat r_0/\lambda$', fs=11, ha='left')
    text(ax, 5.7, 4.45, r'sampling: $r_T\sim\mathcal{N}(0, I)$, DDIM steps $\to \hat r_0$', fs=10.5,
         color=GREEN[1], ha='right')
    sr_img = np.clip(ref + 0.8 * res + 0.03 * rng.standard_normal(ref.shape), 0, 1)
    so = image(ax, sr_img, 9.15, ytop, 0.75)
    arrow(ax, (plus_x + 0.2, ytop), so.l)
    text(ax, 9.15, ytop + 0.375 + 0.36, 'SR =', fs=11)
    text(ax, 9.0, ytop + 0.375 + 0.15, r'ref$\,+\,\hat r_0/\lambda$', fs=11)
    # --- training path for the residual
    ax.plot([0.3, W - 0.3], [4.1, 4.1], color='#bbbbbb', lw=1.0)
    text(ax, 0.25, 3.85, 'Training the diffusion stage: its data is the rescaled residual', fs=12, ha='left',
         weight='bold')
    yt = 2.95
    xh = image(ax, hr, 0.55, yt, 0.75)
    text(ax, 0.55, yt - 0.375 - 0.2, r'HR image $x_\mathrm{HR}$', fs=10.5)
    rbox = box(ax, 2.75, yt, 2.5, 0.62, r'$r_0 = \lambda\,(x_\mathrm{HR} - \mathrm{ref})$', ORANGE, fs=12)
    arrow(ax, xh.r, rbox.l)
    text(ax, rbox.cx, rbox.b[1] - 0.2, "(ref: the frozen encoder's SR)", fs=10.5, color='#555555')
    ri = image(ax, res_img, 4.95, yt, 0.7, cmap='RdBu_r')
    text(ax, 4.95, yt - 0.35 - 0.2, r'$r_0$: the missing detail', fs=10.5)
    arrow(ax, rbox.r, (ri.l[0] - 0.06, yt))
    nb = box(ax, un.cx, yt, 2.5, 0.62, r'$r_t = \sqrt{\bar\alpha_t}\,r_0 + \sqrt{1-\bar\alpha_t}\,\epsilon$', ORANGE,
             fs=11)
    arrow(ax, (ri.r[0] + 0.06, yt), nb.l)
    arrow(ax, nb.t, un.b, color=ORANGE[1], lw=1.6)
    text(ax, un.cx + 0.1, (nb.t[1] + un.b[1]) / 2, r'$r_t$, random $t$', fs=11, ha='left', color=ORANGE[1])
    # --- the three stages
    ax.plot([0.3, W - 0.3], [1.95, 1.95], color='#bbbbbb', lw=1.0)
    text(ax, 0.25, 1.72, 'Three training stages', fs=12, ha='left', weight='bold')
    s0 = box(ax, 1.65, 0.75, 2.95, 1.05, 'Stage 0: encoder\n' r'L1: $\|f_\phi(x_\mathrm{LR}) - x_\mathrm{HR}\|_1$'
             '\nthen frozen', BLUE, fs=10.5)
    s1 = box(ax, 4.8, 0.75, 3.0, 1.05, 'Stage 1: diffusion\nU-Net on the residual\n'
             r'loss on its target ($x_0$, $\epsilon$ or $v$)', GREEN, fs=10.5)
    s2 = box(ax, 8.0, 0.75, 3.0, 1.05, 'Stage 2 (optional): fine-tune\nPatchGAN $D$ (hinge)\n'
             r'+ VGG perceptual + L1 on $\hat x_0$', RED, fs=10.5)
    arrow(ax, s0.r, s1.l); arrow(ax, s1.r, s2.l)
    return save(fig, 'srddpm.svg')

FIGURES = {'diffusion_chain': diffusion_chain, 'unet': unet, 'gan_game': gan_game, 'srddpm': srddpm}

def preview(svgs: list[Path], out: Path, width: int = 700) -> list[Path]:
    "Render each SVG as the book shows it, an <img> `width` px wide, in headless Chromium -> PNG."
    out.mkdir(parents=True, exist_ok=True)
    pngs = []
    for svg in svgs:
        svg = svg.resolve()
        m = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg.read_text()[:2000])
        h = int(width * float(m.group(2)) / float(m.group(1))) + 16
        with tempfile.TemporaryDirectory() as tmp:
            page = Path(tmp) / 'p.html'
            page.write_text(f'<html><body style="margin:8px;background:white"><img src="file://{svg}" '
                            f'style="width:{width}px"></body></html>')
            png = out / (svg.stem + '.png')
            subprocess.run(['chromium', '--headless=new', '--no-sandbox', '--disable-gpu', '--hide-scrollbars',
                            f'--window-size={width + 16},{h}', f'--screenshot={png}', f'file://{page}'],
                           check=True, capture_output=True)
            pngs.append(png)
    return pngs

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('names', nargs='*', help=f'figures to draw (default: all of {", ".join(FIGURES)})')
    ap.add_argument('--preview', type=Path, help='also render each SVG at 700 px in Chromium, as PNGs in this folder')
    a = ap.parse_args()
    svgs = [FIGURES[n]() for n in (a.names or FIGURES)]
    for s in svgs: print(f'wrote {s.relative_to(ROOT)}')
    if a.preview:
        for p in preview(svgs, a.preview): print(f'preview {p}')
    return 0

if __name__ == '__main__':
    sys.exit(main())
