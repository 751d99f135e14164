"""The book's structure stays complete as chapters are added."""
import json, re
from pathlib import Path
import yaml

ROOT = Path(__file__).resolve().parents[1]

def _toc_files():
    toc = yaml.safe_load((ROOT / '_toc.yml').read_text())
    out = [toc['root']]
    for part in toc['parts']:
        out += [c['file'] for c in part['chapters']]
    return out

def _default_exp(nb_path):
    nb = json.loads(nb_path.read_text())
    for c in nb['cells']:
        src = ''.join(c['source']) if isinstance(c['source'], list) else c['source']
        m = re.search(r'^#\|\s*default_exp\s+(\S+)', src, re.M)
        if m: return m.group(1)

def test_every_notebook_is_in_the_toc():
    listed = {f for f in _toc_files()}
    missing = [p.relative_to(ROOT).with_suffix('').as_posix() for p in sorted((ROOT / 'nbs').glob('*.ipynb'))
               if p.relative_to(ROOT).with_suffix('').as_posix() not in listed]
    assert not missing, f'notebooks not in _toc.yml: {missing}'

def test_every_module_has_an_api_section():
    api = (ROOT / 'nbs' / 'api.md').read_text()
    documented = set(re.findall(r'\.\. automodule::\s+srddpm\.(\w+)', api))
    modules = {p.stem for p in (ROOT / 'srddpm').glob('*.py') if not p.stem.startswith('_')}
    assert modules == documented, f'modules without an API section: {modules - documented}; stale sections: {documented - modules}'

def test_every_chapter_module_exists():
    for f in _toc_files():
        p = ROOT / (f + '.ipynb')
        if p.exists() and (mod := _default_exp(p)):
            assert (ROOT / 'srddpm' / f'{mod}.py').exists(), f'{p.name} exports srddpm/{mod}.py, which is missing'

def test_every_chapter_has_the_colab_install_cell():
    import sys; sys.path.insert(0, str(ROOT / 'tools'))
    from colab_cell import cell_source
    want = cell_source()
    for f in _toc_files():
        p = ROOT / (f + '.ipynb')
        if not p.exists(): continue
        nb = json.loads(p.read_text())
        srcs = [''.join(c['source']) if isinstance(c['source'], list) else c['source'] for c in nb['cells']]
        assert want in srcs, f'{p.name}: no install cell for Colab matching _config.yml (run tools/colab_cell.py)'
