"""Authoring helper: convert between a notebook and a plain "percent" script.

    python tools/nbpy.py to-nb  SCRIPT.py  NOTEBOOK.ipynb
    python tools/nbpy.py to-py  NOTEBOOK.ipynb  SCRIPT.py

Script format: cells start with a line `# %%` (code) or `# %% [markdown]` (markdown,
every line prefixed by `# `). An optional tag list follows as `# %% tags=["hide-input"]`.
The notebook stays the source of truth; scripts are a convenience for editing in a text editor.
"""
import json, re, sys
from pathlib import Path

_HDR = re.compile(r'^# %%(?P<md> \[markdown\])?(?: tags=(?P<tags>\[.*\]))?\s*$')

def script_to_cells(text):
    cells, cur = [], None
    for line in text.splitlines():
        m = _HDR.match(line)
        if m:
            if cur: cells.append(cur)
            cur = dict(kind='markdown' if m['md'] else 'code', tags=json.loads(m['tags']) if m['tags'] else [], lines=[])
            continue
        if cur is None: continue
        if cur['kind'] == 'markdown':
            line = line[2:] if line.startswith('# ') else ('' if line.strip() == '#' else line)
        cur['lines'].append(line)
    if cur: cells.append(cur)
    out = []
    for c in cells:
        while c['lines'] and not c['lines'][-1].strip(): c['lines'].pop()
        while c['lines'] and not c['lines'][0].strip(): c['lines'].pop(0)
        src = '\n'.join(c['lines'])
        meta = {'tags': c['tags']} if c['tags'] else {}
        cell = dict(cell_type=c['kind'], metadata=meta, source=src)
        if c['kind'] == 'code': cell.update(execution_count=None, outputs=[])
        out.append(cell)
    return out

def to_nb(script, nb):
    cells = script_to_cells(Path(script).read_text())
    d = dict(cells=cells, metadata=dict(kernelspec=dict(display_name='Python 3', language='python', name='python3')),
             nbformat=4, nbformat_minor=5)
    Path(nb).write_text(json.dumps(d, indent=1) + '\n')

def to_py(nb, script):
    d = json.loads(Path(nb).read_text())
    parts = []
    for c in d['cells']:
        src = ''.join(c['source']) if isinstance(c['source'], list) else c['source']
        tags = c.get('metadata', {}).get('tags')
        t = f' tags={json.dumps(tags)}' if tags else ''
        if c['cell_type'] == 'markdown':
            body = '\n'.join(('# ' + l) if l else '#' for l in src.splitlines())
            parts.append(f'# %% [markdown]{t}\n{body}')
        else:
            parts.append(f'# %%{t}\n{src}')
    Path(script).write_text('\n\n'.join(parts) + '\n')

if __name__ == '__main__':
    cmd, a, b = sys.argv[1:4]
    {'to-nb': to_nb, 'to-py': to_py}[cmd](a, b)
