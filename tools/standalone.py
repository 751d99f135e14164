"""Run chapters as a Colab or Binder reader opens them: each notebook copied ALONE into an empty folder,
executed top to bottom at the `ci` profile with nothing of the checkout around it.

    python tools/standalone.py 00_core 10_diffusion      # chapters by file stem
    python tools/standalone.py --all                     # every chapter of _toc.yml

Run it with the Python of the environment to test (tools/wheel_check.py uses `.venv-wheel`, where
srddpm is the installed wheel and torch is the oldest supported release). The kernel is that same
Python, through a kernel spec written to a temporary folder. Each run:
- executes the chapter's install cell too (every other `#| eval: false` cell is skipped, as in the
  book): where the library is installed it must do nothing;
- first asks the kernel where `srddpm` comes from: the environment's site-packages, never the
  checkout;
- fails on any error output, and on any file the chapter expects beside it (a `../` path, a figure
  file): there is none.
"""
from __future__ import annotations
import argparse, json, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).parent))
from nbexec import ROOT, directives, toc_notebooks      # noqa: E402
from colab_cell import OLD_MARKS                         # noqa: E402

PROBE = ("import json, sys, torch, srddpm\n"
         "print(json.dumps(dict(python=sys.executable, torch=torch.__version__, srddpm=srddpm.__file__)))")


def prepare(nb) -> None:
    "The install cell runs; other `#| eval: false` cells are emptied (the book never runs them); a probe goes first."
    for c in nb.cells:
        if c.cell_type != 'code': continue
        d = [x.replace(' ', '') for x in directives(c.source)]
        if 'eval:false' not in d: continue
        if any(m in c.source for m in OLD_MARKS):
            c.source = '\n'.join(l for l in c.source.splitlines() if l.replace(' ', '') != '#|eval:false')
        else: c.source = ''
    nb.cells.insert(0, nbformat.v4.new_code_cell(PROBE))


def run_alone(path: Path) -> float:
    "Run one chapter alone; its seconds, or SystemExit / CellExecutionError."
    with tempfile.TemporaryDirectory(prefix=f'alone-{path.stem}-') as d:
        d = Path(d)
        shutil.copy(path, d / path.name)                 # the notebook, and nothing else
        nb = nbformat.read(d / path.name, as_version=4)
        prepare(nb)
        t0 = time.perf_counter()
        NotebookClient(nb, timeout=1800, kernel_name='srddpm-alone',
                       resources={'metadata': {'path': str(d)}}).execute()
        seconds = time.perf_counter() - t0
        probe = json.loads(''.join(o.get('text', '') for o in nb.cells[0].outputs))
        site, imported = Path(sys.prefix).resolve(), Path(probe['srddpm']).resolve()
        if not imported.is_relative_to(site) or imported.is_relative_to(ROOT / 'srddpm'):
            raise SystemExit(f'{path.name}: the kernel imported srddpm from {probe["srddpm"]}, not from {site}')
        errors = [o for c in nb.cells if c.cell_type == 'code' for o in c.get('outputs', []) if o.output_type == 'error']
        if errors: raise SystemExit(f'{path.name}: error output {errors[0].get("ename")}: {errors[0].get("evalue")}')
        install = next(c for c in nb.cells if any(m in c.source for m in OLD_MARKS))
        if install.outputs: raise SystemExit(f'{path.name}: the install cell did something where srddpm is installed: {install.outputs}')
        print(f'  {path.stem}: ran alone at ci in {seconds:.0f} s (kernel {probe["python"]}, torch {probe["torch"]})', flush=True)
        return seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('chapters', nargs='*', help='file stems of chapters (e.g. 00_core)')
    ap.add_argument('--all', action='store_true', help='every chapter of _toc.yml')
    a = ap.parse_args()
    chapters = toc_notebooks() if a.all else [ROOT / 'nbs' / f'{c}.ipynb' for c in a.chapters]
    if not chapters: ap.error('name chapters or pass --all')
    os.environ.update(SRDDPM_PROFILE='ci', SRDDPM_PROGRESS='0', MPLBACKEND='module://matplotlib_inline.backend_inline',
                      PYDEVD_DISABLE_FILE_VALIDATION='1',
                      # as in an activated environment: its `srddpm` command first on the PATH
                      PATH=f'{Path(sys.executable).parent}{os.pathsep}{os.environ.get("PATH", "")}')
    with tempfile.TemporaryDirectory(prefix='srddpm-kernel-') as k, tempfile.TemporaryDirectory(prefix='srddpm-cache-') as cache:
        subprocess.run([sys.executable, '-m', 'ipykernel', 'install', '--prefix', k, '--name', 'srddpm-alone'],
                       check=True, capture_output=True)
        os.environ.update(JUPYTER_PATH=str(Path(k) / 'share' / 'jupyter'), SRDDPM_CACHE=cache)
        total, failed = 0.0, []
        for p in chapters:                      # every chapter, then every failure
            try: total += run_alone(p)
            except (Exception, SystemExit) as e:    # SystemExit from the checks, CellExecutionError from the kernel
                msg = str(e).strip().splitlines()
                print(f'  {p.stem}: FAILED alone:', *msg[-12:], sep='\n    ', flush=True); failed.append(p.stem)
    if failed: raise SystemExit(f'chapters that fail when run alone: {", ".join(failed)}')
    print(f'{len(chapters)} chapter(s) ran alone in {total:.0f} s')


if __name__ == '__main__':
    main()
