"""Training-patch loader throughput: patches/s per DataLoader worker count, as the Trainer reads them.

DIV2K's training images when `--div2k`/`SRDDPM_DIV2K` points at a folder holding `DIV2K_train_HR/`, else
DIV2K-sized stand-ins (2040x1356 PNGs made from the embedded training photographs by
`srddpm.sr_data.div2k_standins`) in a temporary folder. Two loaders over the same files and draws:
- `decode per patch`: no disk cache, 16 decoded images kept in memory per worker (the loader before the cache);
- `uint8 cache`: each file decoded once into a `.npy` cache, patches cut from memory maps, one batched `make_lr`
  per batch (`SRPatchDataset.__getitems__`).
Batches come in the Trainer's order (`StepSampler`); the first batches of each run are not timed (worker start-up).
The goal of the full GPU run: >= 1,000 patches/s with 8 workers at 160-px patches, i.e. >= 125 per worker.

    python bench/bench_loader.py [--workers 0,1,2] [--patch 160] [--batch 64] [--batches 12] [--images 40]
    python bench/bench_loader.py --quick        # a few seconds: small stand-ins, for the tests
"""
import argparse, os, platform, tempfile, time
from pathlib import Path
import torch
from srddpm.sr_data import SRPatchDataset, div2k_files, div2k_standins
from srddpm.training import StepSampler


def cpu_name() -> str:
    try:
        for line in open('/proc/cpuinfo'):
            if line.startswith('model name'): return line.split(':', 1)[1].strip()
    except OSError: pass
    return platform.processor() or platform.machine()


def patches_per_second(ds, workers: int, batch: int, n_batches: int, warmup: int) -> float:
    "Patches/s of a DataLoader over `ds` with `workers` workers, timing `n_batches` batches after `warmup`."
    sampler = StepSampler(len(ds), batch, warmup + n_batches, seed=0)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, sampler=sampler, num_workers=workers,
                                         prefetch_factor=4 if workers else None)
    it = iter(loader)
    for _ in range(warmup): next(it)
    t0 = time.perf_counter()
    n = sum(len(next(it)[1]) for _ in range(n_batches))
    return n / (time.perf_counter() - t0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--workers', default='0,1,2', help='comma-separated DataLoader worker counts')
    ap.add_argument('--patch', type=int, default=160, help='HR patch size (160: the full run)')
    ap.add_argument('--scale', type=int, default=4)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--batches', type=int, default=12, help='timed batches per row')
    ap.add_argument('--images', type=int, default=40, help='stand-in images (more than the 16 a worker keeps decoded)')
    ap.add_argument('--div2k', default=os.environ.get('SRDDPM_DIV2K'), help='a DIV2K root (default: stand-ins)')
    ap.add_argument('--threads', type=int, default=1, help='torch threads per process')
    ap.add_argument('--no-baseline', action='store_true', help='skip the decode-per-patch rows')
    ap.add_argument('--quick', action='store_true', help='tiny sizes: 4 small stand-ins, 2 batches of 8')
    a = ap.parse_args(argv)
    size = (1356, 2040)
    if a.quick:
        a.patch, a.batch, a.batches, a.images, a.workers, size = 32, 8, 2, 4, '0,1', (96, 144)
    torch.set_num_threads(a.threads)
    workers = [int(w) for w in a.workers.split(',')]
    with tempfile.TemporaryDirectory(prefix='srddpm-bench-loader-') as tmp:
        if a.div2k:
            files, source = div2k_files(a.div2k, 'train'), f'DIV2K_train_HR ({a.div2k})'
        else:
            t0 = time.perf_counter()
            files = div2k_standins(Path(tmp) / 'DIV2K_train_HR', n=a.images, size=size)
            source = f'{len(files)} stand-in PNGs of {size[1]}x{size[0]} from the embedded photos ' \
                     f'(written in {time.perf_counter() - t0:.0f} s)'
        cache = Path(tmp) / 'cache'
        cached = SRPatchDataset(files, a.scale, a.patch, 1_000_000, cache_dir=cache)
        t0 = time.perf_counter()
        for k in range(len(files)): cached.image(k)                  # fill the cache: one decode per file
        fill = time.perf_counter() - t0
        rows = [('uint8 cache + batched make_lr', cached)]
        if not a.no_baseline:
            rows.insert(0, ('decode per patch (16 kept)', SRPatchDataset(files, a.scale, a.patch, 1_000_000,
                                                                         cache_dir=False, cache_size=16)))
        print(f'# Patch loader | {cpu_name()}, {os.cpu_count()} cores, {a.threads} torch thread(s) per process, '
              f'OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS", "unset")} | load average {os.getloadavg()[0]:.1f} '
              f'| torch {torch.__version__}')
        print(f'# {source}; x{a.scale}, {a.patch}-px HR patches, batch {a.batch}, {a.batches} timed batches per row; '
              f'cache filled once: {len(files)} files decoded in {fill:.1f} s')
        print('| loader | workers | patches/s | patches/s per worker |')
        print('|---|---|---|---|')
        for name, ds in rows:
            for w in workers:
                warmup = max(2, w) if w else 1
                r = patches_per_second(ds, w, a.batch, a.batches if w else max(2, a.batches // 2), warmup)
                per = f'{r / w:.0f}' if w else '–'
                print(f'| {name} | {w} | {r:.0f} | {per} |', flush=True)


if __name__ == '__main__': main()
