"""Open the built book in headless Chromium and check every chapter as a reader sees it.

    python tools/browser_check.py _build/ci/_build/html [--screenshots _build/screenshots]
           [--widths 1280,1920] [--shoot 10_diffusion,12_autoencoder_vae,21_architecture] [--toc _toc.yml]

For every page in the table of contents, at the first window width:
- the page loads; MathJax has typeset the maths (no raw `$$`, `\\(` or `\\[` left in the text, no
  MathJax error boxes); no TeX control word (`\\frac`, `\\mathbb`, `\\begin{`...) and no `$...$` with
  TeX inside left as text outside the typeset maths; no MyST role (`{cite}`, `{doc}`...) left as text;
- every image has loaded; there is no `#|` text, no error output, no Markdown table shown as text
  (in the prose, or printed into a cell's output);
- no typed chapter number in the prose ("chapter 21", "chapters 20-26"): chapters are linked with
  `{doc}`, whose text is the chapter's title; a link whose text says "chapter N" must point to the
  page the sidebar numbers N;
- no stray Python repr in a cell's output (`<torch._C.Generator at 0x...>`, `<... object at 0x...>`,
  `np.float64(3.2)`).
Then at every window width (1280 and 1920 px by default):
- every display equation's box lies inside the content column, and its content is not cut off
  (content that overflows to the left, or into an ancestor with `overflow: hidden`, cannot be
  scrolled to: it is simply lost);
- every table lies inside the content column, or scrolls inside a box that does.
- no shown input line of code is wider than its box (it would scroll sideways), and every code box holds
  at least CODE_BOX_CHARS characters, the limit tests/test_book_structure.py applies to the notebooks.
Reported without failing: output lines wider than their box and tables that scroll sideways. Then every internal link (file and #anchor) of every page is checked, and
full-page screenshots of a few chapters are written. Exit status 1 on any problem.

The site is served under a sub-path (`--prefix`, default `/srddpm/`), as GitHub Pages serves a project
site (`https://<owner>.github.io/<repo>/`): a request outside the prefix (a root-absolute link or
script) is answered 404 and reported, and so is anything a page loads from another host (the book must
work offline: its maths, scripts, styles and images are its own).
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
WIDTHS = (1280, 1920)
# The characters a code box shows at 1280 px with the book's CSS (measured: 108 with Chromium's monospace
# font), less a margin for other fonts; tests/test_book_structure.py holds every code line to it.
CODE_BOX_CHARS = 104
SHOOT = ('10_diffusion', '12_autoencoder_vae', '21_architecture')   # the chapters the issue asked to look at

def toc_pages(html: Path, toc: Path = ROOT / '_toc.yml') -> list[Path]:
    import yaml
    toc = yaml.safe_load(Path(toc).read_text())
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

# Text checks, run once per page after MathJax has finished. Text is read from text nodes outside code
# and outside MathJax's output, so an equation's own source or a code cell never counts.
_PAGE_JS = r"""
const done = arguments[arguments.length - 1];
const SKIP = 'pre, code, kbd, samp, textarea, script, style, mjx-container, .highlight, .MathJax, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-header, .headerlink';
const textNodes = (root, skip) => {
  const out = [];
  if (!root) return out;
  const w = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {acceptNode: n =>
    (n.parentElement && n.parentElement.closest(skip)) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  while (w.nextNode()) out.push(w.currentNode);
  return out;
};
const ctx = (s, i, n) => s.slice(Math.max(0, i - 40), i + n + 40).replace(/\s+/g, ' ').trim();
// every match, as {m, ctx, node}; `perBlock`: only the first match of each paragraph (list item, cell...), with a count
const BLOCK = 'pre, p, li, td, th, dt, dd, h1, h2, h3, h4, h5, h6, figcaption, div';
const matches = (nodes, re, max = 12, perBlock = false) => {
  const out = [], seen = new Map();
  for (const n of nodes) {
    const s = n.nodeValue; re.lastIndex = 0; let m;
    while ((m = re.exec(s))) {
      const block = n.parentElement.closest(BLOCK);
      if (perBlock && seen.has(block)) { seen.get(block).count += 1; continue; }
      if (out.length >= max) return out;
      const text = perBlock && block ? block.textContent : s, i = perBlock && block ? text.indexOf(m[0]) : m.index;
      const x = {m: m[0], ctx: ctx(text, Math.max(0, i), m[0].length), node: n, count: 1};
      out.push(x); if (perBlock) seen.set(block, x);
    }
  }
  return out;
};
const settle = () => {
  const main = document.querySelector('main') || document.body;
  const article = document.querySelector('article.bd-article') || document.querySelector('article') || main;
  const clone = main.cloneNode(true);
  clone.querySelectorAll('pre, code, mjx-container, script, style, .highlight').forEach(e => e.remove());
  const text = clone.innerText || '';
  const imgs = [...main.querySelectorAll('img')];
  const prose = textNodes(main, SKIP);
  // the sidebar's chapter numbers, by page file name
  const number = {};
  document.querySelectorAll('.bd-sidebar-primary a.reference.internal, nav.bd-docs-nav a.reference.internal').forEach(a => {
    const m = a.textContent.trim().match(/^(\d+)\.\s/);
    if (m) number[new URL(a.href, location.href).pathname.split('/').pop()] = m[1];
  });
  const chapterRefs = matches(textNodes(article, SKIP), /\bchapters?\s+\(?\d+/gi, 50).filter(x => {
    const a = x.node.parentElement.closest('a[href]');
    if (!a || /chapters/i.test(x.m)) return true;
    const target = new URL(a.getAttribute('href'), location.href).pathname.split('/').pop();
    return number[target] !== x.m.match(/\d+/)[0];     // a generated link ({numref}) with the sidebar's number is fine
  }).map(x => x.ctx);
  const outputs = [...main.querySelectorAll('.cell_output, div.output')].filter(e => !e.parentElement.closest('.cell_output, div.output'));
  const outNodes = outputs.flatMap(o => textNodes(o, 'script, style, mjx-container'));
  const reprs = matches(outNodes, /<[A-Za-z_][\w.]*[^<>\n]{0,80}? at 0x[0-9a-fA-F]+>|\bnp\.(?:float|int|uint|bool|complex|str|bytes|longdouble|datetime64|timedelta64)\w*\(/g, 20, true).map(x => x.count > 1 ? `${x.ctx} (${x.count} in this output)` : x.ctx);
  done({
    title: document.title,
    rawMath: (text.match(/\$\$|\\\(|\\\[/g) || []).length,
    rawMathSample: (text.match(/.{0,40}(\$\$|\\\(|\\\[).{0,40}/) || [''])[0],
    rawTex: matches(prose, /\\(?:begin|end)\s*\{[A-Za-z*]*\}?|\\[A-Za-z]{2,}|\$[^$\n]*[\\^_][^$\n]*\$/g, 12, true).map(x => `${x.ctx} (${x.count} in this paragraph)`),
    roles: matches(prose, /\{(?:cite|doc|ref|numref|eq|math|term|download|py:[a-z]+)(?::[a-z]+)?\}/g).map(x => x.ctx),
    chapterRefs, reprs,
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
    // ... or printed (print(table)) into an output instead of displayed with display(Markdown(table))
    outputTables: outputs.filter(o => /^\s*\|(\s*:?-{3,}:?\s*\|)+\s*$/m.test(o.textContent)).map(o =>
      ctx(o.textContent, o.textContent.search(/^\s*\|/m), 60)),
  });
};
let settled = false;
const once = () => { if (!settled) { settled = true; settle(); } };
setTimeout(once, 45000);   // a page MathJax never finishes is reported by the counts, not by a hang
const go = () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(() => setTimeout(once, 50), once);
  } else if (document.readyState !== 'complete') { setTimeout(go, 200); }
  else { setTimeout(once, 300); }       // a page without maths loads no MathJax
};
go();
"""

# Layout checks, run at every window width: boxes against the content column (the article's content box).
_LAYOUT_JS = r"""
const art = document.querySelector('article.bd-article') || document.querySelector('article') || document.querySelector('main');
const acs = getComputedStyle(art), ar = art.getBoundingClientRect();
const L = ar.left + parseFloat(acs.paddingLeft), R = ar.right - parseFloat(acs.paddingRight);
const px = v => Math.round(v);
const tex = new Map();
try { for (const item of MathJax.startup.document.math) if (item.display) tex.set(item.typesetRoot, item.math); } catch (e) {}
const where = el => {
  const sec = el.closest('section'); const h = sec && sec.querySelector('h1, h2, h3, h4, h5, h6');
  return h ? ' in "' + h.textContent.replace(/[#¶]/g, '').trim().slice(0, 50) + '"' : '';
};
const describe = m => {
  const tag = m.querySelector('mjx-assistive-mml mlabeledtr mtd mtext, mjx-assistive-mml mlabeledtr mtd');
  const src = (tex.get(m) || m.parentElement.textContent || '').replace(/\s+/g, ' ').trim();
  return 'display equation' + (tag ? ' ' + tag.textContent.trim() : '') + where(m) + ': ' + src.slice(0, 60);
};
const contentBox = m => {        // union of what MathJax drew (the assistive MathML is off-screen by design)
  let l = Infinity, r = -Infinity;
  for (const c of m.children) {
    if (c.tagName === 'MJX-ASSISTIVE-MML') continue;
    const rg = document.createRange(); rg.selectNodeContents(c);
    for (const q of [c.getBoundingClientRect(), rg.getBoundingClientRect()]) if (q.width) { l = Math.min(l, q.left); r = Math.max(r, q.right); }
  }
  return [l, r];
};
const clipper = el => {          // the nearest ancestor (or el) inside the column that does not let content overflow
  for (let e = el; e && e !== art; e = e.parentElement) {
    const o = getComputedStyle(e).overflowX;
    if (o !== 'visible') return [e, o];
  }
  return [null, 'visible'];
};
const name = e => e.tagName.toLowerCase() + (e.classList.length ? '.' + [...e.classList].join('.') : '');
const problems = [], notes = [];
for (const m of document.querySelectorAll('mjx-container[display="true"]')) {
  const b = m.getBoundingClientRect();
  if (!b.width) continue;                                   // inside a collapsed cell
  const d = describe(m);
  if (b.left < L - 1 || b.right > R + 1) {
    const [h] = clipper(m.parentElement), hr = h && h.getBoundingClientRect();
    const hidden = h && b.left < hr.left - 1 ? `; its left side is hidden by ${name(h)}, where no scrollbar reaches it` : '';
    problems.push(`${d} -- its box (${px(b.left)}-${px(b.right)} px) extends past the content column (${px(L)}-${px(R)} px)${hidden}`);
  }
  const [cl, cr] = contentBox(m);
  const [e, o] = clipper(m);
  if (e) {
    const r = e.getBoundingClientRect();
    if (cl < r.left - 1) problems.push(`${d} -- its left side is cut off by ${name(e)} (content from ${px(cl)} px, box from ${px(r.left)} px; no scrollbar reaches it)`);
    else if (cr > r.right + 1 && (o === 'hidden' || o === 'clip')) problems.push(`${d} -- its right side is cut off by ${name(e)} (overflow: ${o})`);
  } else if (cl < L - 1 || cr > R + 1) problems.push(`${d} -- wider than the content column and not in a scrolling box`);
}
for (const t of art.querySelectorAll('table')) {
  const r = t.getBoundingClientRect();
  if (!r.width) continue;
  const label = 'table' + where(t) + ' (' + t.innerText.replace(/\s+/g, ' ').trim().slice(0, 40) + ')';
  const [e, o] = clipper(t.parentElement);
  if (!e) { if (r.left < L - 1 || r.right > R + 1) problems.push(`${label} -- wider than the content column (${px(r.width)} px) and not in a scrolling box: cut off`); continue; }
  const s = e.getBoundingClientRect();
  if (s.left < L - 1 || s.right > R + 1) problems.push(`${label} -- its box extends past the content column`);
  else if (r.left < s.left - 1 || (r.right > s.right + 1 && (o === 'hidden' || o === 'clip'))) problems.push(`${label} -- cut off by ${name(e)} (overflow: ${o})`);
  else if (r.right > s.right + 1) notes.push(`${label} scrolls sideways (${px(r.width)} px in ${px(s.width)} px)`);
}
return {problems, notes, column: [px(L), px(R)]};
"""

# Code lines wider than their box, measured at each window width with the box's own font. An input line
# wider than its box is a problem (the reader scrolls sideways inside the cell to see the end of the idea);
# a wide output line is only counted. `inputChars`: the narrowest code cell's box, in characters.
_CODE_JS = r"""
const main = document.querySelector('main') || document.body;
const code = {input: [0, 0], output: [0, 0], inputChars: null, wide: []};
for (const pre of main.querySelectorAll('pre')) {
  if (!pre.clientWidth) continue;                       // collapsed or hidden
  const probe = document.createElement('span'); probe.textContent = 'x'.repeat(100);
  pre.appendChild(probe); const cw = probe.getBoundingClientRect().width / 100; probe.remove();
  const cs = getComputedStyle(pre);
  const fit = Math.floor((pre.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight)) / cw + 0.01);
  const kind = pre.closest('.cell_output, div.output') ? 'output' : 'input';
  for (const line of pre.textContent.replace(/\n$/, '').split('\n')) {
    const n = line.replace(/\t/g, '    ').length;
    code[kind][1] += 1;
    if (n > fit) {
      code[kind][0] += 1;
      if (kind === 'input' && code.wide.length < 8) code.wide.push(`${n} chars in a ${fit}-char box: ${line.trim().slice(0, 50)}`);
    }
  }
  if (pre.closest('.cell_input')) code.inputChars = code.inputChars === null ? fit : Math.min(code.inputChars, fit);
}
return code;
"""

PREFIX = '/srddpm/'

def _serve(html: Path, prefix: str = PREFIX):
    "Serve `html` under `prefix` on 127.0.0.1; requests outside it get 404 and are listed in `srv.outside`."
    outside = []
    class UnderPrefix(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
        def send_head(self):
            if not self.path.startswith(prefix):
                # the browser asks the host for /favicon.ico by itself, whatever the page says
                if self.path != '/favicon.ico': outside.append(self.path)
                self.send_error(404); return None
            self.path = '/' + self.path[len(prefix):]
            return super().send_head()
    handler = functools.partial(UnderPrefix, directory=str(html))
    srv = socketserver.ThreadingTCPServer(('127.0.0.1', 0), handler)
    srv.daemon_threads = True
    srv.outside = outside
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f'http://127.0.0.1:{srv.server_address[1]}{prefix.rstrip("/")}'

# What a page loaded, or asked for, from another origin (a CDN, a font service): the book must work offline.
_FOREIGN_JS = r"""
const here = location.origin;
const urls = performance.getEntriesByType('resource').map(e => e.name);
document.querySelectorAll('script[src], link[rel~="stylesheet"][href], link[rel~="preload"][href], img[src], iframe[src]')
  .forEach(e => urls.push(e.src || e.href));
return [...new Set(urls.filter(u => { try { const o = new URL(u, location.href); return /^https?:$/.test(o.protocol) && o.origin !== here; }
                                      catch (e) { return false; } }))];
"""

def _driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = '/usr/bin/chromium'
    for f in CHROME_FLAGS: opts.add_argument(f)
    driver = webdriver.Chrome(options=opts, service=Service('/usr/bin/chromedriver'))
    driver.set_script_timeout(90); driver.set_page_load_timeout(90)
    return driver

def page_problems(r: dict, where: str) -> list[str]:
    "The problems the text checks of one page found (`r`: what _PAGE_JS returned)."
    p = []
    if r['rawMath']: p.append(f"{where} raw maths left untypeset ({r['rawMath']}x), e.g. {r['rawMathSample']!r}")
    if r['mathElems'] and not r['typeset']: p.append(f'{where} maths present but MathJax typeset nothing')
    if r['mathErrors']: p.append(f"{where} {r['mathErrors']} MathJax error(s) (a broken equation or an undefined macro)")
    p += [f'{where} TeX left as text: {s!r}' for s in r['rawTex']]
    p += [f'{where} MyST role left as text: {s!r}' for s in r['roles']]
    p += [f'{where} typed chapter number (link the chapter with {{doc}} instead): {s!r}' for s in r['chapterRefs']]
    p += [f'{where} stray Python repr in an output: {s!r}' for s in r['reprs']]
    if r['badImages']: p.append(f"{where} images that did not load: {r['badImages']}")
    if r['directives']: p.append(f"{where} nbdev directive visible: {r['directives'].strip()!r}")
    if r['errors'] or r['tracebacks']: p.append(f'{where} error output in the page')
    if r['rawTables']: p.append(f"{where} {r['rawTables']} Markdown table(s) shown as text, not rendered")
    p += [f'{where} Markdown table printed as text in an output (show it with display(Markdown(...))): {t!r}'
          for t in r['outputTables']]
    return p

def code_problems(c: dict, where: str, box_chars: int | None = None) -> list[str]:
    """The problems the code measurement of one page at one width found (`c`: what _CODE_JS returned):
    every shown input line wider than its box, and a code box narrower than CODE_BOX_CHARS, the width
    tests/test_book_structure.py holds every code line to (the book's CSS must keep that promise)."""
    box_chars = CODE_BOX_CHARS if box_chars is None else box_chars
    p = [f'{where} code line wider than its box (it scrolls sideways): {s}' for s in c['wide']]
    if c['input'][0] > len(c['wide']): p.append(f"{where} ... {c['input'][0] - len(c['wide'])} more such lines")
    if c['inputChars'] is not None and c['inputChars'] < box_chars:
        p.append(f"{where} a code box holds only {c['inputChars']} characters, fewer than the "
                 f"{box_chars} every code line may have (see _static/srddpm.css)")
    return p

def check_pages(html: Path, pages: list[Path], shots: Path | None, widths=WIDTHS, shoot=SHOOT,
                prefix: str = PREFIX) -> list[str]:
    driver = _driver()
    srv, base = _serve(html, prefix)
    problems, chapters = [], [p for p in pages if p.stem[:2].isdigit()]
    shoot = {p for p in chapters if p.stem in shoot} or set(chapters[:1] + chapters[-1:])
    try:
        for page in pages:
            rel = page.relative_to(html).as_posix()
            if not page.exists(): problems.append(f'{rel}: page missing from the build'); continue
            driver.set_window_size(widths[0], 1600)
            driver.get(f'{base}/{rel}')
            r = driver.execute_async_script(_PAGE_JS)
            found, notes = page_problems(r, f'{rel}:'), []
            found += [f'{rel}: loads from another host (the book must work offline): {u}'
                      for u in driver.execute_script(_FOREIGN_JS)]
            wide = ''
            for w in widths:
                if w != widths[0]: driver.set_window_size(w, 1600)
                lay = driver.execute_script(_LAYOUT_JS)
                found += [f'{rel} @{w}px: {s}' for s in lay['problems']]
                notes += [f'@{w}px: {s}' for s in lay['notes']]
                c = driver.execute_script(_CODE_JS)
                found += code_problems(c, f'{rel} @{w}px:')
                if w == widths[0]:
                    if c['input'][1]:
                        wide = (f"; code box {c['inputChars']} chars at {w} px, lines wider: "
                                f"{c['input'][0]}/{c['input'][1]} input, {c['output'][0]}/{c['output'][1]} output")
            print(f"  {rel}: {r['typeset']} equations typeset, {r['nImages']} images loaded{wide}"
                  f"{'  <- ' + str(len(found)) + ' PROBLEMS' if found else ''}")
            for n in notes: print(f'      note {n}')
            problems += found
            if shots is not None and page in shoot:
                shots.mkdir(parents=True, exist_ok=True)
                driver.set_window_size(widths[0], 1600)
                h = driver.execute_script('return document.documentElement.scrollHeight')
                driver.set_window_size(widths[0], min(max(h, 800), 16000))
                out = shots / f'{page.stem}.png'
                driver.save_screenshot(str(out)); print(f'  screenshot: {out}')
    finally:
        driver.quit(); srv.shutdown()
    problems += [f'request outside the site\'s path {prefix} (a root-absolute link?): {u}' for u in sorted(set(srv.outside))]
    print(f'  served under {prefix}: {len(set(srv.outside))} request(s) outside it')
    return problems

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('html', type=Path)
    ap.add_argument('--screenshots', type=Path, default=ROOT / '_build' / 'screenshots')
    ap.add_argument('--widths', default=','.join(map(str, WIDTHS)), help='window widths in px, comma-separated')
    ap.add_argument('--shoot', default=','.join(SHOOT), help='chapters (file stems) to screenshot at the first width')
    ap.add_argument('--toc', type=Path, default=ROOT / '_toc.yml', help="the book's _toc.yml (its pages are checked)")
    ap.add_argument('--prefix', default=PREFIX, help='the sub-path the site is served under (default %(default)s)')
    a = ap.parse_args()
    html = a.html.resolve()
    pages = toc_pages(html, a.toc)
    widths = tuple(int(w) for w in a.widths.split(','))
    prefix = '/' + a.prefix.strip('/') + '/' if a.prefix.strip('/') else '/'
    problems = check_pages(html, pages, a.screenshots, widths, tuple(a.shoot.split(',')), prefix) + check_links(html, pages)
    if problems:
        print(f'browser check FAILED ({len(problems)} problems):\n  ' + '\n  '.join(problems)); return 1
    print(f'browser check passed: {len(pages)} pages at {", ".join(map(str, widths))} px, served under {prefix}, '
          'nothing loaded from another host, internal links ok')
    return 0

if __name__ == '__main__':
    sys.exit(main())
