"""Give every chapter the install cell a Colab or Binder user needs (idempotent).

    python tools/colab_cell.py nbs/*.ipynb

The cell is `#| eval: false`: shown in the book, never executed by the book or the tests. Its URL
is the repository URL of _config.yml (tests/test_book_structure.py checks they agree).
"""
import json, sys
from pathlib import Path
import yaml

ROOT = Path(__file__).resolve().parents[1]
MARK = '# Running on Colab or Binder?'

def cell_source() -> str:
    url = yaml.safe_load((ROOT / '_config.yml').read_text())['repository']['url']
    return (f'#| eval: false\n{MARK} Install the library this book builds first:\n'
            f'%pip install -q "srddpm @ git+{url}"')

def add(path: Path) -> bool:
    nb = json.loads(path.read_text())
    src = lambda c: ''.join(c['source']) if isinstance(c['source'], list) else c['source']
    cells = nb['cells']
    for c in cells:
        if c['cell_type'] == 'code' and MARK in src(c):
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
