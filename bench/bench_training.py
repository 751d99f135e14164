"""Training throughput of each SRDDPM stage per profile: steps/s and images/s (issue 8, item 9).

Times `--steps` optimisation steps of the generic Trainer (after 2 warm-up steps) on random LR/HR batches of
each profile's patch and batch size, with each profile's model size. Prints one markdown table.

    python bench/bench_training.py [--profiles ci,book] [--steps 10] [--threads 2]
"""
import argparse, os, platform, time
import torch
from srddpm.recipe import RecipeConfig, SRGANPair, STAGE_NAMES, encoder_loss, make_diffusion_loss, make_adversarial_loss, make_discriminator
from srddpm.architecture import SRDDPM
from srddpm.training import TrainConfig, Trainer
from srddpm.core import get_device

def bench(profile, stage, n_steps, device):
    cfg = RecipeConfig.for_profile(profile)
    B, p, s = cfg.data.batch_size, cfg.data.patch_size, cfg.scale
    g = torch.Generator().manual_seed(0)
    data = lambda bs, gen: (torch.rand(bs, 3, p // s, p // s, generator=gen) * 2 - 1, torch.rand(bs, 3, p, p, generator=gen) * 2 - 1)
    model = SRDDPM(cfg.model)
    tc = TrainConfig(n_steps=n_steps + 2, batch_size=B, lr=1e-4, ema_decay=0.999, device=str(device),
                     amp='bf16' if device.type == 'cuda' else None)
    if stage == 'encoder': tr = Trainer(model.encoder, encoder_loss, data, tc)
    elif stage == 'diffusion':
        model.freeze_encoder(); tr = Trainer(model, make_diffusion_loss('l1'), data, tc)
    else:
        model.freeze_encoder(); pair = SRGANPair(model, make_discriminator(cfg.adversarial))
        tr = Trainer(pair, make_adversarial_loss(cfg.adversarial, None), data, tc, parts={'g': model, 'd': pair.disc})
    times = []
    def cb(t, logs):
        if device.type == 'cuda': torch.cuda.synchronize()
        times.append(time.perf_counter())
    tr.fit(callback=cb, show_progress=False)
    dt = times[-1] - times[1]       # steps 3..n+2: the first two are warm-up
    return n_steps / dt, n_steps * B / dt, B, p

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--profiles', default='ci,book')
    ap.add_argument('--steps', type=int, default=10)
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    device = get_device()
    name = torch.cuda.get_device_name() if device.type == 'cuda' else f'{platform.processor() or platform.machine()} CPU, {a.threads} threads'
    print(f'# SRDDPM training throughput | {name} | load average {os.getloadavg()[0]:.1f} | torch {torch.__version__}')
    print('| profile | stage | batch | HR patch | steps/s | images/s |')
    print('|---|---|---|---|---|---|')
    for prof in a.profiles.split(','):
        for stage in STAGE_NAMES:
            sps, ips, B, p = bench(prof, stage, a.steps, device)
            print(f'| {prof} | {stage} | {B} | {p} | {sps:.2f} | {ips:.1f} |', flush=True)

if __name__ == '__main__': main()
