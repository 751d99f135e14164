"""The throughput benchmarks of the full GPU run run anywhere: `--quick` sizes on the test machine's device."""
import os, re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args, **kw):
    env = dict(os.environ, OMP_NUM_THREADS='1', SRDDPM_PROGRESS='0')
    env.pop('SRDDPM_DIV2K', None)
    r = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=600, **kw)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def _numbers(row: str) -> list[float]:
    return [float(x) for x in re.findall(r'(?<![\w.])\d+(?:\.\d+)?(?![\w.])', row)]


def test_bench_loader_quick():
    out = _run('bench/bench_loader.py', '--quick')
    assert out.startswith('# Patch loader |') and 'OMP_NUM_THREADS=1' in out
    rows = [l for l in out.splitlines() if l.startswith('| ') and 'patches/s' not in l]
    assert [r.split(' | ')[0][2:] for r in rows] == ['decode per patch (16 kept)'] * 2 + ['uint8 cache + batched make_lr'] * 2
    assert all(_numbers(r.split(' | ')[2])[0] > 0 for r in rows), rows


def test_bench_gpu_quick(tmp_path):
    out = _run('bench/bench_gpu.py', '--quick', '--out', tmp_path)
    table = (tmp_path / 'bench_gpu.md').read_text()
    for line in ('Loader:', 'Upscale x4', '| stage | mode | steps/s |'):
        assert line in out and line in table, line
    rows = [l for l in table.splitlines() if re.match(r'\| (encoder|diffusion|adversarial) \|', l)]
    assert [r.split(' | ')[:2] for r in rows] == [['| encoder', 'fp32'], ['| encoder', 'bf16'], ['| diffusion', 'fp32'],
                                                   ['| diffusion', 'bf16'], ['| diffusion', 'compiled'],
                                                   ['| adversarial', 'fp32'], ['| adversarial', 'bf16']]
    for r in rows:
        steps, images, gflop = (float(c) for c in r.split(' | ')[2:5])
        assert steps > 0 and gflop > 0 and abs(images - 2 * steps) < 0.1 + 0.01 * images, r
    assert float(re.search(r'([\d.]+) s per output megapixel', table).group(1)) > 0
