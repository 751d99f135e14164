"""Open the built book in headless Chromium and check every chapter as a reader sees it.

    python tools/browser_check.py _build/ci/_build/html [--screenshots _build/screenshots]

For every page in the table of contents: the page loads; MathJax has typeset the maths (no raw
`$$`, `\\(` or `\\[` left in the text, no MathJax error boxes); every image has loaded; there is no
`#|` text and no error output. Then every internal link (file and #anchor) of every page is
checked, and full-page screenshots of two chapters are written. Exit status 1 on any problem.
Needs Debian's chromium and chromium-driver (the Makefile installs them when missing).
"""
from __future__ import annotations
import argparse, functools, http.server, re, socketserver, sys, threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit, unquote

ROOT = Path(__file__).resolve().parents[1]
CHROME_FLAGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                '--disable-background-networking', '--disable-component-update', '--disable-sync',
                '--disable-dev-shm-usage', '--window-size=1280,1600']

def toc_pages(html: Path) -> list[Path]:
    import yaml
    toc = yaml.safe_load((ROOT / '_toc.yml').read_text())
    files = [toc['root']]
    def walk(n):
        if isinstance(n, dict):
            if 'file' in n: files.append(n['file'])
            for v in n.values(): walk(v)
        elif isinstance(n, list):
            for v in n: walk(v)
    walk(toc.get('parts', toc.get('chapters', [])))
    return [html / (f + '.html') for f in files]

class _Links(HTMLParser):
    def __init__(self):
        super().__init__(); self.links, self.ids = [], set()
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if 'id' in a: self.ids.add(a['id'])
        if tag == 'a' and a.get('href'): self.links.append(a['href'])
        if tag in ('img', 'script') and a.get('src'): self.links.append(a['src'])
        if tag == 'link' and a.get('href'): self.links.append(a['href'])

@functools.lru_cache(None)
def _parse(path: Path) -> _Links:
    p = _Links(); p.feed(path.read_text(errors='replace')); return p

def check_links(html: Path, pages: list[Path]) -> list[str]:
    problems = []
    for page in sorted(html.rglob('*.html')):
        if '_static' in page.parts or '_sources' in page.parts: continue
        for href in _parse(page).links:
            u = urlsplit(href)
            if u.scheme or href.startswith('//') or href.startswith('mailto:'): continue
            target = page if not u.path else (page.parent / unquote(u.path)).resolve()
            if not target.exists(): problems.append(f'{page.relative_to(html)}: broken link {href}'); continue
            if u.fragment and target.suffix == '.html' and u.fragment not in _parse(target).ids:
                problems.append(f'{page.relative_to(html)}: link {href} points to a missing anchor')
    return problems

_PAGE_JS = r"""
const done = arguments[arguments.length - 1];
const settle = () => {
  const main = document.querySelector('main') || document.body;
  const clone = main.cloneNode(true);
  clone.querySelectorAll('pre, code, mjx-container, script, style, .highlight').forEach(e => e.remove());
  const text = clone.innerText || '';
  const imgs = [...main.querySelectorAll('img')];
  done({
    title: document.title,
    rawMath: (text.match(/\$\$|\\\(|\\\[/g) || []).length,
    rawMathSample: (text.match(/.{0,40}(\$\$|\\\(|\\\[).{0,40}/) || [''])[0],
    mathElems: document.querySelectorAll('.math, mjx-container').length,
    typeset: document.querySelectorAll('mjx-container').length,
    mathErrors: document.querySelectorAll('mjx-merror, [data-mjx-error], .MathJax_Error, mjx-assistive-mml mtext[mathcolor="red"]').length,
    badImages: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src')),
    nImages: imgs.length,
    directives: (main.innerText.match(/^\s*#\|.*$/m) || [''])[0],
    errors: main.querySelectorAll('.output.traceback, .output.error, .cell_output .traceback').length,
    tracebacks: (main.innerText.match(/Traceback \(most recent call last\)/g) || []).length,
    // a Markdown table left as text: a paragraph holding a pipe-table delimiter row (`---` may be typeset as a dash)
    rawTables: [...main.querySelectorAll('p')].filter(p => /\|\s*:?(-{3,}|\u2014|\u2013)\s*:?\|/.test(p.innerText)).length,
  });
};
let settled = false;
const once = () => { if (!settled) { settled = true; settle(); } };
setTimeout(once, 45000);   // a page MathJax never finishes is reported by the counts, not by a hang
const go = () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(() => setTimeout(once, 50), once);
  } else if (document.readyState !== 'complete' || !window.MathJax) { setTimeout(go, 200); }
  else { setTimeout(once, 500); }
};
go();
"""

def _serve(html: Path):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    handler = functools.partial(Quiet, directory=str(html))
    srv = socketserver.TCPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f'http://127.0.0.1:{srv.server_address[1]}'

def check_pages(html: Path, pages: list[Path], shots: Path | None, n_shots: int = 2) -> list[str]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = '/usr/bin/chromium'
    for f in CHROME_FLAGS: opts.add_argument(f)
    driver = webdriver.Chrome(options=opts, service=Service('/usr/bin/chromedriver'))
    driver.set_script_timeout(90); driver.set_page_load_timeout(90)
    srv, base = _serve(html)
    problems, chapters = [], [p for p in pages if p.stem[:2].isdigit()]
    shoot = set(chapters[:1] + chapters[-1:]) if len(chapters) >= 2 else set(chapters[:n_shots])
    try:
        for page in pages:
            rel = page.relative_to(html).as_posix()
            if not page.exists(): problems.append(f'{rel}: page missing from the build'); continue
            driver.get(f'{base}/{rel}')
            r = driver.execute_async_script(_PAGE_JS)
            where = f'{rel}:'
            if r['rawMath']: problems.append(f"{where} raw maths left untypeset ({r['rawMath']}x), e.g. {r['rawMathSample']!r}")
            if r['mathElems'] and not r['typeset']: problems.append(f'{where} maths present but MathJax typeset nothing')
            if r['mathErrors']: problems.append(f"{where} {r['mathErrors']} MathJax error(s) (a broken equation or an undefined macro)")
            if r['badImages']: problems.append(f"{where} images that did not load: {r['badImages']}")
            if r['directives']: problems.append(f"{where} nbdev directive visible: {r['directives'].strip()!r}")
            if r['errors'] or r['tracebacks']: problems.append(f'{where} error output in the page')
            if r['rawTables']: problems.append(f"{where} {r['rawTables']} Markdown table(s) shown as text, not rendered")
            print(f"  {rel}: {r['typeset']} equations typeset, {r['nImages']} images loaded"
                  f"{'' if not problems or not problems[-1].startswith(where) else '  <- PROBLEMS'}")
            if shots is not None and page in shoot:
                shots.mkdir(parents=True, exist_ok=True)
                h = driver.execute_script('return document.documentElement.scrollHeight')
                driver.set_window_size(1280, min(max(h, 800), 16000))
                out = shots / f'{page.stem}.png'
                driver.save_screenshot(str(out)); print(f'  screenshot: {out}')
                driver.set_window_size(1280, 1600)
    finally:
        driver.quit(); srv.shutdown()
    return problems

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('html', type=Path)
    ap.add_argument('--screenshots', type=Path, default=ROOT / '_build' / 'screenshots')
    a = ap.parse_args()
    html = a.html.resolve()
    pages = toc_pages(html)
    problems = check_pages(html, pages, a.screenshots) + check_links(html, pages)
    if problems:
        print('browser check FAILED:\n  ' + '\n  '.join(problems)); return 1
    print(f'browser check passed: {len(pages)} pages, internal links ok')
    return 0

if __name__ == '__main__':
    sys.exit(main())
