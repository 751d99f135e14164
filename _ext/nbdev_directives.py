"""Sphinx extension: make nbdev notebooks read well in Jupyter Book.

nbdev steers export with `#|` comment lines; Jupyter Book would show them verbatim, show
`#| hide` cells and execute `#| eval: false` cells. On `source-read` we rewrite each notebook:

| nbdev directive            | in the book                                   |
|----------------------------|-----------------------------------------------|
| `#| default_exp`, `#| hide` | cell removed (`remove-cell`)                 |
| `#| eval: false`           | shown, never executed (`skip-execution`)      |
| `#| echo: false`           | input removed, output kept (`remove-input`)   |
| `#| output: false`         | output removed (`remove-output`)              |
| any other `#|` line        | the line is stripped                           |

Existing Jupyter Book tags survive (nbdev-clean keeps `tags`). When a notebook was executed by
tools/nbexec.py, the run time it recorded is shown under the chapter title.
"""
import json, re

_DIRECTIVE = re.compile(r'^\s*#\|\s*(.*?)\s*$')

def _tags_for(directives):
    tags = set()
    for d in directives:
        key, _, val = d.partition(':')
        key, val = key.strip(), val.strip().lower()
        if key in ('hide', 'default_exp') or d.startswith('default_exp'): tags.add('remove-cell')
        elif key == 'eval' and val == 'false': tags.add('skip-execution')
        elif key == 'echo' and val == 'false': tags.add('remove-input')
        elif key == 'output' and val == 'false': tags.add('remove-output')
    return tags

def rewrite_notebook(text):
    nb = json.loads(text)
    for cell in nb.get('cells', []):
        src = cell.get('source', '')
        src = ''.join(src) if isinstance(src, list) else src
        if cell.get('cell_type') != 'code': continue
        lines, directives = src.splitlines(), []
        kept = []
        for line in lines:
            m = _DIRECTIVE.match(line)
            if m: directives.append(m.group(1)); continue
            kept.append(line)
        while kept and not kept[0].strip(): kept.pop(0)
        cell['source'] = '\n'.join(kept)
        tags = set(cell.setdefault('metadata', {}).get('tags', [])) | _tags_for(directives)
        if not kept: tags.add('remove-cell')
        if tags: cell['metadata']['tags'] = sorted(tags)
    run = nb.get('metadata', {}).get('srddpm')
    if run and nb.get('cells'):
        first = next((c for c in nb['cells'] if c.get('cell_type') == 'markdown'), None)
        if first is not None:
            src = first['source']; src = ''.join(src) if isinstance(src, list) else src
            note = (f"\n\n:::{{admonition}} Run time\n:class: note\nThis chapter ran top to bottom in "
                    f"**{run['seconds']:.0f} s** at the `{run['profile']}` profile when this book was built"
                    f"{' (' + run['machine'] + ')' if run.get('machine') else ''}.\n:::\n")
            lines = src.split('\n', 1)
            first['source'] = lines[0] + note + (lines[1] if len(lines) > 1 else '')
    return json.dumps(nb)

def _on_source_read(app, docname, source):
    path = app.env.doc2path(docname)
    if str(path).endswith('.ipynb'):
        source[0] = rewrite_notebook(source[0])

def setup(app):
    app.connect('source-read', _on_source_read)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
