"""The browser check catches what it claims to catch, and passes a page that is right.

A tiny Jupyter Book is built with the book's own configuration, extension and CSS: a page done right
(a wide tagged equation, a wide HTML table output, a Markdown output with a table and $maths$, a schematic
from srddpm/figures, a chapter linked with {doc}) and a page with one of each mistake (TeX left as text, a MyST role as text, typed chapter numbers,
stray reprs in outputs, a Markdown table printed into an output, a wide table inside a box with
`overflow: hidden`, an image linked root-absolute, which breaks under the site's sub-path, and one loaded
from another host). The site is served under /srddpm/, as GitHub Pages serves it. The same site with the book's CSS emptied shows the theme's defaults: the wide
equation then loses its left side, and the check must say so at both window widths; and its code box is
narrower than the longest code line the book allows, which then scrolls.
Needs Debian's chromium and chromium-driver (`make browser-deps`); skipped without them.
"""
import json, shutil, subprocess, sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tools'))
import browser_check as bc  # noqa: E402

pytestmark = pytest.mark.skipif(not (Path('/usr/bin/chromium').exists() and Path('/usr/bin/chromedriver').exists()),
                                reason="needs Debian's chromium and chromium-driver (make browser-deps)")

WIDE = ' + '.join(f'\\frac{{a_{{{i}}}}}{{b_{{{i}}}}}' for i in range(1, 41))     # far wider than any column

def _md(src): return {'cell_type': 'markdown', 'metadata': {}, 'source': src}

def _code(src, outputs): return {'cell_type': 'code', 'metadata': {}, 'execution_count': 1, 'source': src, 'outputs': outputs}

def _stream(text): return {'output_type': 'stream', 'name': 'stdout', 'text': text}

def _result(data): return {'output_type': 'execute_result', 'execution_count': 1, 'metadata': {}, 'data': data}

def _nb(cells):
    return {'cells': cells, 'nbformat': 4, 'nbformat_minor': 5,
            'metadata': {'kernelspec': {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}}}

WIDE_TABLE = '<table><tr>' + ''.join(f'<th>column_{i}</th>' for i in range(30)) + '</tr><tr>' + \
             ''.join(f'<td>{i * 1.5:.2f}</td>' for i in range(30)) + '</tr></table>'

# a code line as long as the book allows (it fits the box), and one far longer (it scrolls sideways)
FITS = ('fits = ' + '1+' * bc.CODE_BOX_CHARS)[:bc.CODE_BOX_CHARS - 1] + '1'
SCROLLS = 'scrolls = ' + ' + '.join(['x'] * 70)

GOOD = _nb([
    _md('# A page done right\n\nA wide equation scrolls in its own box:\n\n'
        f'$$ s = {WIDE} \\tag{{1}} $$\n\n'
        'The counter-example is {doc}`20_bad`; a link whose text carries the sidebar\'s number is fine too: '
        '[chapter 2](20_bad.ipynb).\n\n'
        '![The forward and reverse chains](figures/diffusion_chain.svg)\n'),
    _code('print(f"x = {3.21:.2f}")', [_stream('x = 3.21\n')]),
    _code(FITS, []),
    _code('table', [_result({'text/html': WIDE_TABLE, 'text/plain': 'table'})]),
    _code('display(Markdown(summary))', [{'output_type': 'display_data', 'metadata': {}, 'data': {
        'text/markdown': 'Within $3\\sigma$ of a mode:\n\n| model | $\\hat x_0$ error |\n|---|---:|\n| DDPM | 0.12 |\n',
        'text/plain': '<IPython.core.display.Markdown object>'}}]),
])

BAD = _nb([
    _md('# A page with mistakes\n\n'
        'Completing the square: the exponent is \\tfrac12 \\big(x - \\mu\\big) and \\mathbb{E} stays as text.\n\n'
        'As chapter 21 shows, and as [chapter 7](10_good.ipynb) says, the {cite} role was not parsed.\n\n'
        f'<div style="overflow: hidden">{WIDE_TABLE}</div>\n\n'
        '<img src="/_static/logo.png" alt="root-absolute"> <img src="http://127.0.0.2:9/logo.png" alt="another host">\n'),
    _code(SCROLLS, []),
    _code('torch.manual_seed(0)', [_result({'text/plain': '<torch._C.Generator at 0x7f3a2c1b0270>'})]),
    _code('losses', [_stream('{0.5: np.float64(3.21), 1.0: np.float64(18.52)}\n'
                             '<srddpm.core.Timer object at 0x7f00deadbeef>\n')]),
    _code('print(table)', [_stream('| method | PSNR |\n|---|---:|\n| bicubic | 31.48 |\n')]),
])

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    "The tiny book, built with the book's _config.yml, _ext/ and _static/ (execution off, warnings as errors)."
    from book import add_local_mathjax
    src = tmp_path_factory.mktemp('tinybook')
    (src / 'nbs' / 'figures').mkdir(parents=True)
    shutil.copy(ROOT / 'srddpm' / 'figures' / 'diffusion_chain.svg', src / 'nbs' / 'figures')
    shutil.copytree(ROOT / '_ext', src / '_ext', ignore=shutil.ignore_patterns('__pycache__'))
    shutil.copytree(ROOT / '_static', src / '_static')
    shutil.copy(ROOT / 'references.bib', src)
    cfg = yaml.safe_load((ROOT / '_config.yml').read_text())
    cfg['execute']['execute_notebooks'] = 'off'
    add_local_mathjax(src, cfg)
    (src / '_config.yml').write_text(yaml.safe_dump(cfg, sort_keys=False))
    (src / '_toc.yml').write_text(yaml.safe_dump({'format': 'jb-book', 'root': 'nbs/index', 'parts': [
        {'caption': 'Chapters', 'numbered': True, 'chapters': [{'file': 'nbs/10_good'}, {'file': 'nbs/20_bad'}]}]}))
    (src / 'nbs' / 'index.md').write_text('# Tiny book\n\nTwo pages.\n')
    (src / 'nbs' / '10_good.ipynb').write_text(json.dumps(GOOD))
    (src / 'nbs' / '20_bad.ipynb').write_text(json.dumps(BAD))
    jb = Path(sys.executable).parent / 'jupyter-book'
    r = subprocess.run([str(jb), 'build', str(src), '--path-output', str(src / 'out'), '--builder', 'html', '-W', '--keep-going'],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    html = src / 'out' / '_build' / 'html'
    nocss = src / 'nocss'
    shutil.copytree(html, nocss)
    (nocss / '_static' / 'srddpm.css').write_text('')      # the theme's defaults, as before the fix
    return src, html, nocss

def _pages(html, *stems): return [html / 'nbs' / f'{s}.html' for s in stems]

def test_a_page_done_right_passes(site):
    src, html, _ = site
    assert list((html / '_images').glob('diffusion_chain*.svg')), 'the schematic was not copied (only_build_toc_files?)'
    problems = bc.check_pages(html, _pages(html, 'index', '10_good'), shots=None)
    assert problems == []
    # the only broken link of the site is the bad page's root-absolute one
    assert bc.check_links(html, bc.toc_pages(html, src / '_toc.yml')) == ['nbs/20_bad.html: broken link /_static/logo.png']

def test_each_mistake_is_flagged(site):
    _, html, _ = site
    problems = bc.check_pages(html, _pages(html, '20_bad'), shots=None)
    text = '\n'.join(problems)
    assert sum('TeX left as text' in p for p in problems) == 1, text          # one paragraph, reported once
    assert '\\tfrac12' in text and '(5 in this paragraph)' in text, text
    assert sum('MyST role left as text' in p for p in problems) == 1, text
    typed = [p for p in problems if 'typed chapter number' in p]
    assert len(typed) == 2 and 'chapter 21 shows' in typed[0] and 'chapter 7' in typed[1], text   # wrong number in a link too
    reprs = [p for p in problems if 'stray Python repr' in p]
    assert len(reprs) == 2, text
    assert 'torch._C.Generator at 0x' in reprs[0] and 'np.float64(3.21)' in reprs[1] and '(3 in this output)' in reprs[1], text
    cut = [p for p in problems if 'table' in p and 'cut off by div' in p]
    assert len(cut) == 2 and '@1280px' in cut[0] and '@1920px' in cut[1], text       # a table in a box that hides it
    assert sum('Markdown table printed as text in an output' in p and '| method | PSNR |' in p for p in problems) == 1, text
    assert sum('images that did not load' in p and '2 of' in p or 'images that did not load' in p for p in problems) == 1, text
    assert [p for p in problems if 'loads from another host' in p] == \
        ['nbs/20_bad.html: loads from another host (the book must work offline): http://127.0.0.2:9/logo.png'], text
    assert [p for p in problems if 'outside the site' in p] == \
        ["request outside the site's path /srddpm/ (a root-absolute link?): /_static/logo.png"], text
    wide = [p for p in problems if 'code line wider than its box' in p]
    assert len(wide) == 2 and '@1280px' in wide[0] and '@1920px' in wide[1] and 'scrolls = x + x' in wide[0], text
    assert len(problems) == 14, text

def test_the_themes_clipping_is_flagged_at_both_widths(site):
    _, _, nocss = site
    problems = bc.check_pages(nocss, _pages(nocss, '10_good'), shots=None)
    eq = [p for p in problems if 'display equation (1)' in p]
    assert any('@1280px' in p and 'extends past the content column' in p for p in eq), problems
    assert any('@1920px' in p and 'extends past the content column' in p for p in eq), problems
    assert any('left side is hidden by div.math' in p for p in eq), problems
    # the theme's code box is narrower than the book allows: the longest allowed line scrolls at 1280 px
    narrow = [p for p in problems if '@1280px' in p and 'a code box holds only' in p]
    assert narrow and any('@1280px' in p and 'code line wider than its box' in p and 'fits = 1+1' in p
                          for p in problems), problems
