"""Build the book from notebooks executed once.

    python tools/book.py execute --profile book --jobs 2   # run every chapter in _toc.yml
    python tools/book.py build --out _build/book [--strict]

`execute` runs each chapter with tools/nbexec.py (stops on the first failing cell, records the
chapter's run time and the machine in the notebook's metadata). `make test` skips it: its pytest
run executes every chapter at the `ci` profile and leaves the same executed copies behind.
`build` stages those executed copies with the book's configuration (execution turned off) and
runs Jupyter Book; `--strict` turns warnings into errors. A chapter whose executed copy is
missing or older than its notebook is an error: the book never shows stale outputs.
"""
from __future__ import annotations
import argparse, json, os, shutil, subprocess, sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from nbexec import ROOT, EXECUTED, execute, toc_notebooks  # noqa: E402

def _run_one(path: str, profile: str, threads: int):
    os.environ['OMP_NUM_THREADS'] = str(threads)
    import torch; torch.set_num_threads(threads)
    _, seconds = execute(Path(path), profile)
    return path, seconds

# Run times at the `book` profile (s, measured on the 2-core development machine), used only to start the longest
# chapters first when no executed copy records a time: in reading order the longest chapter (25) would start last.
# Quiet machine, 2026-12-01; a chapter not listed takes about 30 s.
TYPICAL_SECONDS = {'25_srddpm': 715, '17_model_comparison': 255, '15_wgan_gp': 225, '11_unet': 175,
                   '12_autoencoder_vae': 150, '10_diffusion': 135, '21_architecture': 90,
                   '26_cli_full_run': 75, '13_gan': 57, '27_web_app': 20}

def expected_seconds(nb_path: Path, profile: str) -> float:
    "The run time the last execution at `profile` recorded in its executed copy, else the typical one."
    try:
        meta = json.loads((EXECUTED / nb_path.relative_to(ROOT)).read_text())['metadata'].get('srddpm', {})
        if meta.get('profile') == profile: return float(meta['seconds'])
    except (OSError, ValueError, KeyError): pass
    return TYPICAL_SECONDS.get(nb_path.stem, 30) * (1 if profile != 'ci' else 0.1)

def cmd_execute(profile: str, jobs: int) -> int:
    nbs = sorted(toc_notebooks(), key=lambda p: -expected_seconds(p, profile))     # longest first: shortest wall time
    threads = max(1, (os.cpu_count() or 1) // jobs)
    failed = []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futs = {pool.submit(_run_one, str(p), profile, threads): p for p in nbs}
        for f in as_completed(futs):
            p = futs[f].relative_to(ROOT)
            try: _, s = f.result(); print(f'  ran {p} at profile {profile} in {s:.0f} s', flush=True)
            except Exception as e:
                failed.append(p); msg = str(e).strip().splitlines()
                print(f'  FAILED {p}:\n' + '\n'.join(msg[-25:]), flush=True)
    if failed: print('chapters that failed: ' + ', '.join(map(str, failed))); return 1
    return 0

def _sources(nb: dict) -> list[str]:
    return [''.join(c['source']) if isinstance(c['source'], list) else c['source'] for c in nb['cells']]

def add_local_mathjax(dest: Path, cfg: dict) -> None:
    """Serve MathJax with the book (from the django-static-mathjax wheel in the dev extra), so the maths
    renders offline and the browser check does not depend on a CDN.

    The files go to `dest/_mathjax/mathjax/`, copied to the site's root by `html_extra_path`, and NOT into
    `_static/`: Jupyter Book adds every .js file under a static path to every page, which loaded all 56
    MathJax components (and MathJax itself twice, once before its configuration) as plain scripts."""
    import mathjax
    es5 = Path(mathjax.__file__).parent / 'static' / 'mathjax' / 'es5'
    static = dest / '_mathjax' / 'mathjax'
    static.mkdir(parents=True)
    shutil.copy(es5 / 'tex-mml-chtml.js', static)
    for sub in ('output', 'a11y', 'ui', 'input', 'adaptors', 'sre'):
        if (es5 / sub).is_dir(): shutil.copytree(es5 / sub, static / sub)
    sphinx_cfg = cfg.setdefault('sphinx', {}).setdefault('config', {})
    sphinx_cfg['html_extra_path'] = list(sphinx_cfg.get('html_extra_path', [])) + ['_mathjax']
    sphinx_cfg['mathjax_path'] = '../mathjax/tex-mml-chtml.js'     # relative to _static/
    cfg['exclude_patterns'] = list(cfg.get('exclude_patterns', [])) + ['_mathjax']

def stage(dest: Path) -> Path:
    "Copy the book's sources into `dest`, with each notebook replaced by its executed copy."
    if dest.exists(): shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for f in ('_toc.yml', 'references.bib'): shutil.copy(ROOT / f, dest / f)
    shutil.copytree(ROOT / '_ext', dest / '_ext', ignore=shutil.ignore_patterns('__pycache__'))
    if (ROOT / '_static').is_dir(): shutil.copytree(ROOT / '_static', dest / '_static')     # the book's CSS
    cfg = yaml.safe_load((ROOT / '_config.yml').read_text())
    cfg['execute']['execute_notebooks'] = 'off'
    add_local_mathjax(dest, cfg)
    (dest / '_config.yml').write_text(yaml.safe_dump(cfg, sort_keys=False))
    shutil.copytree(ROOT / 'nbs', dest / 'nbs', ignore=shutil.ignore_patterns('*.ipynb', '.ipynb_checkpoints'))
    problems = []
    for src in toc_notebooks():
        rel = src.relative_to(ROOT)
        ex = EXECUTED / rel
        if not ex.exists(): problems.append(f'{rel}: not executed yet'); continue
        a, b = json.loads(src.read_text()), json.loads(ex.read_text())
        if _sources(a) != _sources(b): problems.append(f'{rel}: the executed copy is older than the notebook'); continue
        shutil.copy(ex, dest / rel)
    if problems: raise SystemExit('cannot build the book:\n  ' + '\n  '.join(problems))
    return dest

def cmd_build(out: Path, strict: bool) -> int:
    src = stage(ROOT / '_build' / 'stage')
    jb = Path(sys.executable).parent / 'jupyter-book'
    args = [str(jb), 'build', str(src), '--path-output', str(out), '--builder', 'html', '--all']  # no stale pages
    if strict: args += ['-W', '--keep-going']
    r = subprocess.run(args, cwd=ROOT)
    if r.returncode: print('the book build failed (see the warnings above)'); return r.returncode
    print(f'book built: {out / "_build" / "html" / "index.html"}')
    return 0

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    e = sub.add_parser('execute'); e.add_argument('--profile', default='book'); e.add_argument('--jobs', type=int, default=2)
    b = sub.add_parser('build'); b.add_argument('--out', type=Path, default=ROOT / '_build' / 'book'); b.add_argument('--strict', action='store_true')
    a = ap.parse_args()
    sys.exit(cmd_execute(a.profile, a.jobs) if a.cmd == 'execute' else cmd_build(ROOT / a.out if not a.out.is_absolute() else a.out, a.strict))
