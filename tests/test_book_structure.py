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

def _cells(p):
    nb = json.loads(p.read_text())
    return [(c['cell_type'], ''.join(c['source']) if isinstance(c['source'], list) else c['source'],
             c.get('metadata', {}).get('tags', [])) for c in nb['cells']]

def test_every_chapter_ends_with_exercises():
    """Every chapter's last section is `## Exercises`: 2-4 numbered exercises, each followed by its solution in a
    collapsed (hide-cell) code cell that asserts its own answer, so that executing the chapter checks it."""
    bad = []
    for f in _toc_files():
        p = ROOT / (f + '.ipynb')
        if not p.exists(): continue
        cells = _cells(p)
        heads = [i for i, (t, s, _) in enumerate(cells) if t == 'markdown' and re.search(r'^## Exercises\s*$', s, re.M)]
        if not heads:
            bad.append(f'{p.name}: no "## Exercises" section'); continue
        rest = cells[heads[-1]:]
        if any(t == 'markdown' and re.search(r'^##? ', s, re.M) for t, s, _ in rest[1:]):
            bad.append(f'{p.name}: a section follows the exercises'); continue
        starts = [i for i, (t, s, _) in enumerate(rest) if t == 'markdown' and re.search(r'^\*\*\d+\. \(', s, re.M)]
        if not 2 <= len(starts) <= 4: bad.append(f'{p.name}: {len(starts)} exercises')
        for k, i in enumerate(starts):
            end = starts[k + 1] if k + 1 < len(starts) else len(rest)
            sols = [s for t, s, tags in rest[i + 1:end] if t == 'code' and 'hide-cell' in tags]
            if not sols or not any(re.search(r'\bassert\b|assert_close|assert_allclose', s) for s in sols):
                bad.append(f'{p.name}: exercise {k + 1} has no hidden solution that asserts its answer')
    assert not bad, bad

def test_code_fits_the_page():
    """Code lines of the chapters fit the book's code box: at most CODE_BOX_CHARS characters, the width the
    browser check measures (and requires) for a code cell at 1280 px."""
    import sys; sys.path.insert(0, str(ROOT / 'tools'))
    from browser_check import CODE_BOX_CHARS
    long = [f'{p.name}: {len(l)} chars: {l[:60]}...' for f in _toc_files() if (p := ROOT / (f + '.ipynb')).exists()
            for t, s, _ in _cells(p) if t == 'code' for l in s.splitlines() if len(l.replace('\t', '    ')) > CODE_BOX_CHARS]
    assert not long, f'{len(long)} code lines over {CODE_BOX_CHARS} characters: {long[:10]}'

def _equation_order_violations(text):
    "Tags \\tag{N} not numbered 1, 2, 3, ... in reading order; numbers like (1) typed in display maths."
    out = set()
    tags = re.findall(r'\\tag\{([^}]*)\}', text)
    if tags != [str(i) for i in range(1, len(tags) + 1)]:
        out.add(f'tags [{", ".join(tags)}]: not 1, 2, ..., {len(tags)} in order')
    for m in re.finditer(r'\$\$(.*?)\$\$', text, re.S):
        body = re.sub(r'\\tag\{[^}]*\}', '', m.group(1)).rstrip()
        hand = re.search(r'(?:\\q?quad\s*|^|\s)\((\d+)\)\s*[.,]?$', body)
        if hand: out.add(f'number typed by hand at the end of display maths: ({hand.group(1)})')
    return out

def test_equation_numbers_run_in_order():
    """In every chapter, equation tags \\tag{N} in the markdown appear as 1, 2, 3, ... (no gap, no repeat, no
    other order), and no equation number is typed by hand, as "(1)" at the end of display maths."""
    bad = []
    for f in _toc_files():
        p = ROOT / (f + '.ipynb')
        if p.exists():
            text = '\n'.join(s for t, s, _ in _cells(p) if t == 'markdown')
        elif (ROOT / (f + '.md')).exists():
            text = (ROOT / (f + '.md')).read_text()
        else:
            continue
        bad += [f'{f}: {v}' for v in sorted(_equation_order_violations(text))]
    assert not bad, bad

def test_equation_order_check_catches_violations():
    "The rule above on small examples, so that a check that never fires cannot pass unnoticed."
    ok = r'$$a \tag{1}$$ text (1) and $$b \tag{2}$$'
    assert not _equation_order_violations(ok)
    assert _equation_order_violations(r'$$a \tag{1}$$ $$b \tag{3}$$')          # a gap
    assert _equation_order_violations(r'$$a \tag{2}$$ $$b \tag{1}$$')          # out of order
    assert _equation_order_violations(r'$$a \tag{1}$$ $$b \tag{1}$$')          # a repeat
    assert _equation_order_violations('$$x = 1 \\qquad (1)\n$$')              # typed by hand
    assert not _equation_order_violations('$$f(1) = 2 \\tag{1}$$')            # f(1) is maths

# Symbols the notation page (nbs/notation.md) renamed: (chapters, pattern in the markdown maths, what it was).
# Each was a collision: one letter with two meanings. The pattern must not come back.
_RENAMED = [
    (('11_unet',), r'\\gamma\s*\\approx\s*0\.57|\\gamma\s*\+\s*\\ln', "Euler's constant written gamma (gamma is FiLM's scale): gamma_E"),
    (('11_unet',), r'\(\\gamma,\s*\\beta\)', "FiLM's shift written beta (beta_t is the noise schedule): delta"),
    (None, r'\\sigma\s*\(\s*a', 'the sigmoid written sigma (sigma is a standard deviation): sigmoid'),
    (('21_architecture',), r'\\beta\s*=\s*0\.2|\\rho', "ESRGAN's residual scaling written beta or rho (rho is back-projection's contraction factor): xi"),
    (('21_architecture', '22_losses', '23_training', '24_inference', '25_srddpm'), r'\\lambda\b',
     "the residual scale written lambda (lambda is the gradient penalty's weight): kappa"),
    (('25_srddpm',), r'\\mathcal\s*L_\{?0\b', "stage 0's loss written L_0 (the ELBO's reconstruction term): L_reg"),
]

def _maths(p):
    "The maths ($...$ and $$...$$) of a chapter's markdown cells."
    text = '\n'.join(s for t, s, _ in _cells(p) if t == 'markdown')
    return re.findall(r'\$\$.*?\$\$|\$[^$\n]+\$', text, re.S)

def test_renamed_symbols_stay_renamed():
    "A letter the notation page gave one meaning is not used for the other again."
    bad = []
    for f in _toc_files():
        p = ROOT / (f + '.ipynb')
        if not p.exists(): continue
        for chapters, pattern, what in _RENAMED:
            if chapters is not None and p.stem not in chapters: continue
            hits = [m for m in _maths(p) if re.search(pattern, m)]
            if hits: bad.append(f'{p.name}: {what}: {hits[0][:80]}')
    assert not bad, bad

def test_renamed_symbols_check_catches_a_relapse():
    "Each pattern matches the text it was written against (so that a typo cannot make the test pass)."
    samples = {0: r'$\gamma \approx 0.577$', 1: r'$(\gamma, \beta) = \mathrm{Linear}(e)$', 2: r'$D(x)=\sigma(a(x))$',
               3: r'with $\beta = 0.2$', 4: r'$r_0 = \lambda\,(x - y)$', 5: r'$\mathcal L_0 = \lVert f\rVert_1$'}
    for i, (_, pattern, what) in enumerate(_RENAMED):
        assert re.search(pattern, samples[i]), what
