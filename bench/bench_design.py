"""Which design of SRDDPM's diffusion stage works at CPU scale: prediction target x residual reference (issue 8, item 5).

Trains one L1 encoder (stage 0) and then, on top of that same frozen encoder, the diffusion stage once for each
prediction target (eps, x0, v) and residual reference (bicubic, encoder): same data, steps, learning rate and seed.
Each model is scored with DDIM-20, without and with back-projection (BP3), on central crops of the held-out photos.
Prints one markdown table with the machine; nothing is asserted.

    python bench/bench_design.py [--profile book] [--enc-steps 1000] [--diff-steps 300] [--crop 256] [--threads 1]
"""
import argparse, copy, dataclasses, os, platform, time
import torch
from srddpm.core import seed_everything
from srddpm.architecture import SRDDPM, PREDICTION_TYPES, RESIDUAL_REFERENCES
from srddpm.recipe import RecipeConfig, build_dataset, encoder_loss, make_diffusion_loss, evaluate_methods, standard_methods
from srddpm.training import Trainer
from srddpm.sr_data import valid_images
from srddpm.data import center_crop

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--profile', default='book', help='model size, patch size and batch of this profile')
    ap.add_argument('--enc-steps', type=int, default=1000)
    ap.add_argument('--diff-steps', type=int, default=300)
    ap.add_argument('--crop', type=int, default=256)
    ap.add_argument('--threads', type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = RecipeConfig.for_profile(a.profile)
    ds = build_dataset(cfg)
    images = {k: center_crop(v, a.crop) for k, v in valid_images(cfg.scale).items()}
    seed_everything(cfg.data.seed)
    base = SRDDPM(copy.deepcopy(cfg.model))
    enc_cfg = dataclasses.replace(cfg.stage('encoder'), n_steps=a.enc_steps, checkpoint_every=0, out_dir=None,
                                  warmup_steps=min(cfg.stage('encoder').warmup_steps, a.enc_steps // 10))
    t = time.perf_counter()
    tr = Trainer(base.encoder, encoder_loss, ds, enc_cfg)
    tr.fit(show_progress=False)
    if tr.ema is not None: tr.ema.copy_to(base.encoder)
    enc_s = time.perf_counter() - t
    enc_state = copy.deepcopy(base.encoder.state_dict())
    base.eval()
    first = {r['method']: r for r in evaluate_methods({k: v for k, v in standard_methods(base, cfg.scale, steps=(20,), project=0).items()
                                                      if k in ('bicubic', 'regression')}, images, cfg.scale, lpips=False, verbose=False)
             if r['image'] == 'mean'}
    print(f"  encoder: {a.enc_steps} steps in {enc_s:.0f} s, regression {first['regression']['psnr_y'] - first['bicubic']['psnr_y']:+.2f} dB "
          f"PSNR-Y over bicubic", flush=True)
    rows = []
    for ref in RESIDUAL_REFERENCES:
        for pred in PREDICTION_TYPES:
            mc = dataclasses.replace(copy.deepcopy(cfg.model), prediction_type=pred, residual_reference=ref, residual_scale=None)
            seed_everything(cfg.data.seed + 1)
            model = SRDDPM(mc)
            model.encoder.load_state_dict(enc_state)
            model.freeze_encoder()
            dc = dataclasses.replace(cfg.stage('diffusion'), n_steps=a.diff_steps, checkpoint_every=0, out_dir=None,
                                     warmup_steps=min(cfg.stage('diffusion').warmup_steps, a.diff_steps // 10))
            t = time.perf_counter()
            tr = Trainer(model, make_diffusion_loss(cfg.diffusion_loss), ds, dc)
            tr.fit(show_progress=False)
            if tr.ema is not None: tr.ema.copy_to(model)
            train_s = time.perf_counter() - t
            model.eval()
            methods = {**standard_methods(model, cfg.scale, steps=(20,), project=0),
                       **standard_methods(model, cfg.scale, steps=(20,), project=3)}
            methods.pop('regression+BP3')
            if rows: methods = {k: v for k, v in methods.items() if k.startswith('SRDDPM')}   # baselines once
            res = evaluate_methods(methods, images, cfg.scale, lpips=False, verbose=False)
            for r in res:
                if r['image'] == 'mean':
                    r['design'] = '–' if not r['method'].startswith('SRDDPM') else f'{pred} / {ref}'
                    r['train_s'] = enc_s if r['method'].startswith('regression') else (train_s if r['method'].startswith('SRDDPM') else 0.0)
                    rows.append(r)
            print(f'  {pred} / {ref}: trained in {train_s:.0f} s', flush=True)
    print(f'\n# SRDDPM design comparison | profile {a.profile} model, {cfg.data.patch_size}-px patches, batch {cfg.data.batch_size}, '
          f'encoder {a.enc_steps} + diffusion {a.diff_steps} steps | {platform.processor() or platform.machine()} CPU, {a.threads} thread(s) '
          f'| load average {os.getloadavg()[0]:.1f} | means over {len(images)} held-out {a.crop}-px crops')
    print('| prediction / reference | method | PSNR-Y (dB) | SSIM-Y | LR-PSNR (dB) | texture dist. (dB) ↓ | train s |')
    print('|---|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['design']} | {r['method']} | {r['psnr_y']:.2f} | {r['ssim_y']:.4f} | {r['lr_psnr']:.2f} | {r['texture']:.2f} | {r['train_s']:.0f} |")

if __name__ == '__main__': main()
