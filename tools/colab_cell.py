"""Give every chapter the install cell a Colab or Binder reader needs (idempotent).

    python tools/colab_cell.py nbs/*.ipynb

The cell is `#| eval: false`: shown in the book, never executed by the book build or the chapter
tests. Run by a reader, it does nothing where `srddpm` is already importable (a local clone,
Binder); elsewhere it installs the library from the repository on top of the torch that is
already there (Colab's CUDA build stays), and stops with one line where that torch is older than
the library's lower bound. Its URL is the repository URL of _config.yml, and its lower bound the
one of pyproject.toml (tests/test_book_structure.py and tests/test_install.py check both).
"""
import json, sys
from pathlib import Path
import yaml

ROOT = Path(__file__).resolve().parents[1]
MARK = '# On Colab or Binder'
OLD_MARKS = (MARK, '# Running on Colab or Binder?')
TORCH_MIN = (2, 13)          # = the `torch>=` lower bound of pyproject.toml

def cell_source() -> str:
    url = yaml.safe_load((ROOT / '_config.yml').read_text())['repository']['url']
    lo = '.'.join(map(str, TORCH_MIN))
    return f'''#| eval: false
{MARK}? Install the library this book builds (once).
# It keeps the torch you have (Colab's GPU build included);
# it needs torch {lo} or newer.
import importlib.util
if importlib.util.find_spec('srddpm') is None:
    from importlib.metadata import version, PackageNotFoundError
    try:
        have = version('torch')
    except PackageNotFoundError:
        have = None                          # no torch yet: pip brings one
    if have and tuple(map(int, have.split('.')[:2])) < {TORCH_MIN}:
        class TorchTooOld(Exception):        # shown as its message alone
            def _render_traceback_(self):
                return [str(self)]
        raise TorchTooOld(f'srddpm needs torch >= {lo}; this has {{have}}. '
                          'Upgrade it (pip install -U torch) and restart.')
    %pip install -q "srddpm @ git+{url}"'''

def add(path: Path) -> bool:
    nb = json.loads(path.read_text())
    src = lambda c: ''.join(c['source']) if isinstance(c['source'], list) else c['source']
    cells = nb['cells']
    for c in cells:
        if c['cell_type'] == 'code' and any(m in src(c) for m in OLD_MARKS):
            if src(c) == cell_source(): return False
            c['source'] = cell_source(); break
    else:
        title = next(i for i, c in enumerate(cells) if c['cell_type'] == 'markdown')
        cells.insert(title + 1, dict(cell_type='code', execution_count=None, metadata={}, outputs=[], source=cell_source()))
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    return True

if __name__ == '__main__':
    for p in sys.argv[1:]:
        if add(Path(p)): print('install cell added/updated:', p)
