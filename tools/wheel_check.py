"""The built package, installed where a user installs it, run where a user runs it.

    python tools/wheel_check.py            # build, check, install beside torch 2.13, run outside the checkout
    python tools/wheel_check.py --every-chapter --unit-tests     # make test-standalone: much slower

1. `python -m build` makes the sdist, then the wheel FROM the sdist (so a file missing from the sdist
   is missing from the wheel too); `twine check` reads both; the wheel must hold the license, the
   shipped weights, the training configurations and the schematics.
2. A second virtual environment, `.venv-wheel`, gets torch 2.13 (the oldest torch the library
   supports; a CPU build on the development machines' disk) and NO torchvision. The other
   dependencies (numpy, scipy, ...) are reused from `.venv` through a folder of links, so nothing
   is downloaded twice. The wheel is then installed with pip's resolver but without an index:
   pip may only use what is installed, so the install fails if it wanted another torch, and
   afterwards the environment must still hold torch 2.13.
3. From an empty temporary folder (never the checkout): `srddpm --version`, the README's
   `srddpm upscale photo.png -o photo_x4.png` with the shipped weights, `srddpm train --profile ci`,
   a shipped configuration by name, and one chapter copied alone into an empty folder and executed
   top to bottom at the `ci` profile (tools/standalone.py) in that environment's kernel.
`--every-chapter` runs every chapter of _toc.yml alone; `--unit-tests` runs the unit tests (not the
chapters) with the installed wheel and torch 2.13.
"""
from __future__ import annotations
import argparse, os, re, shutil, subprocess, sys, tempfile, time, zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / '_build' / 'dist'
VENV = Path(sys.prefix)                       # the test venv (.venv), whose packages are reused
WHEEL_VENV = ROOT / '.venv-wheel'
OLD_TORCH = '2.13.0'
# not reused from .venv: the newer torch and everything tied to it, torchvision (absent on purpose),
# the editable srddpm (the wheel replaces it) and .pth files (they would import the checkout)
NOT_SHARED = re.compile(r'^(torch|torchvision|torchgen|functorch|torchaudio|triton|nvidia|cuda|lpips|srddpm|'
                        r'_srddpm|__editable__|distutils-precedence)|\.pth$', re.I)


def run(cmd, **kw):
    print('$', ' '.join(map(str, cmd)), flush=True)
    t0 = time.perf_counter()
    r = subprocess.run(list(map(str, cmd)), **kw)
    if r.returncode: raise SystemExit(f'wheel check FAILED: exit {r.returncode} from {" ".join(map(str, cmd))}')
    print(f'  ({time.perf_counter() - t0:.1f} s)', flush=True)
    return r


def build() -> Path:
    if DIST.exists(): shutil.rmtree(DIST)
    run([sys.executable, '-m', 'build', '--no-isolation', '--outdir', DIST, ROOT], stdout=subprocess.DEVNULL)
    wheels, sdists = list(DIST.glob('srddpm-*.whl')), list(DIST.glob('srddpm-*.tar.gz'))
    assert len(wheels) == 1 and len(sdists) == 1, list(DIST.iterdir())
    run([VENV / 'bin' / 'twine', 'check', '--strict', *wheels, *sdists])
    names = zipfile.ZipFile(wheels[0]).namelist()
    need = {'license': r'\.dist-info/licenses/LICENSE$', 'weights': r'^srddpm/weights/srddpm_x4/model\.safetensors$',
            'weights config': r'^srddpm/weights/srddpm_x4/config\.json$',
            'config srddpm_x4_small': r'^srddpm/configs/srddpm_x4_small\.toml$',
            'config div2k_x4_full': r'^srddpm/configs/div2k_x4_full\.toml$', 'schematics': r'^srddpm/figures/unet\.svg$', 'app screenshot': r'^srddpm/figures/web_app\.png$',
            'entry point': r'\.dist-info/entry_points\.txt$'}
    missing = [k for k, pat in need.items() if not any(re.search(pat, n) for n in names)]
    if missing: raise SystemExit(f'wheel check FAILED: the wheel lacks {missing}')
    print(f'wheel {wheels[0].name}: {len(names)} files, license, weights, configurations and schematics inside')
    return wheels[0]


def shared_site(site: Path) -> Path:
    "A folder of links to .venv's packages, less torch and what is tied to it, less torchvision and srddpm."
    src = next((VENV / 'lib').glob('python3*/site-packages'))
    dest = site.parent / 'shared-from-venv'
    if dest.exists(): shutil.rmtree(dest)
    dest.mkdir()
    for p in src.iterdir():
        if not NOT_SHARED.search(p.name): (dest / p.name).symlink_to(p)
    (site / 'srddpm-shared-from-venv.pth').write_text(f'{dest}\n')
    return dest


def make_env(python: str) -> Path:
    py = WHEEL_VENV / 'bin' / 'python'
    have = subprocess.run([py, '-c', 'import torch; print(torch.__version__)'], capture_output=True, text=True) \
        if py.exists() else None
    if not have or not have.stdout.startswith(OLD_TORCH):
        if WHEEL_VENV.exists(): shutil.rmtree(WHEEL_VENV)
        run([python, '-m', 'venv', WHEEL_VENV])
        # Python 3.11's venv brings an old setuptools of its own; torch needs a newer one: .venv's
        run([py, '-m', 'pip', 'uninstall', '-q', '-y', 'setuptools'])
        # the CPU build where the machine has it (pip's find-links); torch's own dependencies come from .venv
        run([py, '-m', 'pip', 'install', '-q', '--no-deps', f'torch=={OLD_TORCH}'])
    site = next((WHEEL_VENV / 'lib').glob('python3*/site-packages'))
    shared_site(site)
    return py


def install(py: Path, wheel: Path):
    subprocess.run([py, '-m', 'pip', 'uninstall', '-q', '-y', 'srddpm'], capture_output=True)
    # resolver on, index off: the installed torch must satisfy the wheel's requirement as it is
    run([py, '-m', 'pip', 'install', '-q', '--no-index', wheel])
    probe = ('import importlib.util, torch, srddpm; '
             'print(torch.__version__, importlib.util.find_spec("torchvision") is None, srddpm.__file__)')
    out = run([py, '-c', probe], capture_output=True, text=True, cwd=tempfile.gettempdir()).stdout.split()
    version, no_tv, where = out[0], out[1] == 'True', out[2]
    print(f'  torch {version}, torchvision absent: {no_tv}, srddpm imported from {where}')
    if not version.startswith(OLD_TORCH): raise SystemExit(f'wheel check FAILED: installing srddpm replaced torch ({version})')
    if not no_tv: raise SystemExit('wheel check FAILED: torchvision is importable in the wheel environment')
    if not Path(where).resolve().is_relative_to(WHEEL_VENV.resolve()):
        raise SystemExit(f'wheel check FAILED: srddpm was imported from {where}, not from the installed wheel')


def use(py: Path):
    "The README's commands, from an empty folder outside the checkout."
    from PIL import Image
    from skimage import data
    env = dict(os.environ, SRDDPM_PROGRESS='0', PATH=f'{py.parent}{os.pathsep}{os.environ["PATH"]}')
    env.pop('SRDDPM_PROFILE', None)
    with tempfile.TemporaryDirectory(prefix='srddpm-user-') as d:
        d = Path(d)
        Image.fromarray(data.chelsea()[::2, ::2]).save(d / 'photo.png')          # 226x150, a photograph
        srddpm = py.parent / 'srddpm'
        run([srddpm, '--version'], cwd=d, env=env)
        run([srddpm, 'upscale', 'photo.png', '-o', 'photo_x4.png'], cwd=d, env=env)
        with Image.open(d / 'photo_x4.png') as im:
            assert im.size == (226 * 4, 150 * 4), im.size
        run([srddpm, 'train', '--profile', 'ci', '--out', 'runs/ci', '-q'], cwd=d, env=env)
        assert (d / 'runs' / 'ci' / 'final' / 'model.safetensors').is_file()
        run([srddpm, 'upscale', 'photo.png', '-o', 'mine_x4.png', '--checkpoint', 'runs/ci', '--steps', '2', '-q'],
            cwd=d, env=env)
        run([py, '-c', "from srddpm.recipe import RecipeConfig as R; c = R.from_file('div2k_x4_full'); "
                       "assert c.data.patch_size == 160; print('shipped configuration div2k_x4_full: ok')"], cwd=d, env=env)
        left = sorted(p.name for p in d.iterdir())
        assert left == ['mine_x4.png', 'photo.png', 'photo_x4.png', 'runs'], left


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--python', default=shutil.which('python3') or sys.executable,
                    help='the Python that creates .venv-wheel (default: python3 on the PATH)')
    ap.add_argument('--chapters', default='00_core', help='chapters to run alone (file stems, comma-separated)')
    ap.add_argument('--every-chapter', action='store_true', help='run every chapter of _toc.yml alone')
    ap.add_argument('--unit-tests', action='store_true', help='run the unit tests with the wheel and torch 2.13')
    a = ap.parse_args()
    t0 = time.perf_counter()
    wheel = build()
    py = make_env(a.python)
    install(py, wheel)
    use(py)
    chapters = ['--all'] if a.every_chapter else a.chapters.split(',')
    run([py, ROOT / 'tools' / 'standalone.py', *chapters])
    if a.unit_tests:
        # from a folder outside the checkout, so that `import srddpm` is the installed wheel (pytest puts tests/,
        # not the checkout, on sys.path); the chapters and the documented commands are run above and by make test
        with tempfile.TemporaryDirectory(prefix='srddpm-tests-') as d:
            run([py, '-m', 'pytest', '-q', '-n', '2', '-p', 'no:cacheprovider', ROOT / 'tests',
                 '--ignore', ROOT / 'tests' / 'test_notebooks.py',
                 '--ignore', ROOT / 'tests' / 'test_documented_commands.py'], cwd=d)
    print(f'wheel check passed in {time.perf_counter() - t0:.0f} s: the wheel installs beside torch {OLD_TORCH} '
          f'(kept) without torchvision and runs outside the checkout')


if __name__ == '__main__':
    main()
