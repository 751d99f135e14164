"""Execute notebooks top to bottom the way the book does, and keep the executed copies.

Used by tests/test_notebooks.py (one test per chapter) and by `make test`'s book build, which
renders these executed copies instead of running every notebook a second time.

    python tools/nbexec.py nbs/10_diffusion.ipynb [--profile ci]   # run one chapter by hand
"""
from __future__ import annotations
import argparse, copy, os, re, sys, time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
EXECUTED = ROOT / '_build' / 'executed'
_DIRECTIVE = re.compile(r'^\s*#\|\s*(.*)$')

def directives(src: str) -> list[str]:
    "The nbdev `#|` directives at the top of a cell's source."
    out = []
    for line in src.splitlines():
        m = _DIRECTIVE.match(line)
        if m: out.append(m.group(1).strip())
        elif line.strip(): break
    return out

def skipped(cell) -> bool:
    "Cells the book never executes: `#| eval: false` and the `skip-execution` tag."
    if cell.cell_type != 'code': return False
    d = directives(cell.source)
    return any(x.replace(' ', '') == 'eval:false' for x in d) or 'skip-execution' in cell.metadata.get('tags', [])

def toc_notebooks() -> list[Path]:
    "Every notebook named in _toc.yml, in reading order."
    import yaml
    toc = yaml.safe_load((ROOT / '_toc.yml').read_text())
    files = []
    def walk(node):
        if isinstance(node, dict):
            if 'file' in node: files.append(node['file'])
            if 'root' in node: files.append(node['root'])
            for v in node.values(): walk(v)
        elif isinstance(node, list):
            for v in node: walk(v)
    walk(toc)
    out = []
    for f in files:
        p = ROOT / f
        if p.suffix == '': p = p.with_suffix('.ipynb') if p.with_suffix('.ipynb').exists() else p.with_suffix('.md')
        if p.suffix == '.ipynb': out.append(p)
    return out

def machine() -> str:
    "A short description of this machine: CPU model and core count (and the GPU, if any)."
    import platform
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'): cpu = line.split(':', 1)[1].strip(); break
    except OSError: pass
    desc = f'{cpu}, {os.cpu_count()} cores'
    try:
        import torch
        if torch.cuda.is_available(): desc += ', ' + torch.cuda.get_device_name(0)
    except Exception: pass
    return desc

def execute(path: Path, profile: str = 'ci', timeout: int = 1800, save: bool = True):
    "Execute notebook `path` at `profile` with nbs/ as working directory; return (notebook, seconds)."
    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    held = {}
    for i, c in enumerate(nb.cells):
        if skipped(c): held[i], c.source = c.source, ''
    old = {k: os.environ.get(k) for k in ('SRDDPM_PROFILE', 'SRDDPM_PROGRESS', 'MPLBACKEND', 'PYDEVD_DISABLE_FILE_VALIDATION')}
    # A static page cannot animate a progress bar: tqdm would leave hundreds of stderr lines in the book.
    os.environ.update(SRDDPM_PROFILE=profile, SRDDPM_PROGRESS=os.environ.get('SRDDPM_BOOK_PROGRESS', '0'),
                      MPLBACKEND='module://matplotlib_inline.backend_inline', PYDEVD_DISABLE_FILE_VALIDATION='1')
    t0 = time.perf_counter()
    try:
        NotebookClient(nb, timeout=timeout, kernel_name='python3', resources={'metadata': {'path': str(path.parent)}}).execute()
    finally:
        for k, v in old.items():
            if v is None: os.environ.pop(k, None)
            else: os.environ[k] = v
        for i, src in held.items(): nb.cells[i].source = src
        seconds = time.perf_counter() - t0
    if save:
        out = EXECUTED / path.relative_to(ROOT)
        out.parent.mkdir(parents=True, exist_ok=True)
        nb.metadata['srddpm'] = {'profile': profile, 'seconds': round(seconds, 1), 'machine': machine()}
        nbformat.write(nb, out)
    return nb, seconds

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('notebooks', nargs='+')
    ap.add_argument('--profile', default='ci')
    a = ap.parse_args()
    for p in a.notebooks:
        _, s = execute(Path(p), a.profile)
        print(f'{p}: ran at profile {a.profile} in {s:.1f} s')
