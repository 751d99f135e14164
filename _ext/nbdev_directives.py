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
tools/nbexec.py, the run time it recorded is shown under the chapter title, with the names the
chapter exports into `srddpm` (linked to the API reference page).
"""
import ast, json, re

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

def _exported_names(src):
    "Public top-level names defined by an exported cell."
    try: tree = ast.parse(src)
    except SyntaxError: return []
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): names.append(node.name)
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                names += [e.id for e in (t.elts if isinstance(t, ast.Tuple) else [t]) if isinstance(e, ast.Name)]
    return [n for n in names if not n.startswith('_')]

def _add_chapter_box(nb, module, exported):
    "Under the title: what the chapter exports (linked to the API page) and its measured run time."
    first = next((c for c in nb.get('cells', []) if c.get('cell_type') == 'markdown'), None)
    run = nb.get('metadata', {}).get('srddpm')
    if first is None or (module is None and not run): return
    lines = []
    if module:
        names = ', '.join(f'`{n}`' for n in exported) or 'nothing public yet'
        lines.append(f'**Exports** into {{py:mod}}`srddpm.{module}` (see the API reference): {names}.')
    if run:
        machine = f" on {run['machine']}" if run.get('machine') else ''
        lines.append(f"**Run time**: this chapter ran top to bottom in **{run['seconds']:.0f} s** at the "
                     f"`{run['profile']}` profile{machine}, when this page was built.")
    src = first['source']; src = ''.join(src) if isinstance(src, list) else src
    head, _, rest = src.partition('\n')
    box = '\n\n:::{admonition} About this chapter\n:class: note\n' + '\n\n'.join(lines) + '\n:::\n'
    first['source'] = head + box + rest

_DISPLAY = re.compile(r'\$\$(.+?)\$\$', re.S)

def _tags_outside_split(md):
    "Sphinx wraps a multi-line display equation in `split`, where MathJax refuses \\tag: show the tag as text."
    def fix(m):
        body = m.group(1)
        if '\\\\' not in body or '\\tag' not in body: return m.group(0)
        return '$$' + re.sub(r'\\tag\{([^}]*)\}', r'\\qquad\\text{(\1)}', body) + '$$'
    return _DISPLAY.sub(fix, md)

def rewrite_notebook(text):
    nb = json.loads(text)
    module, exported = None, []
    for cell in nb.get('cells', []):
        src = cell.get('source', '')
        src = ''.join(src) if isinstance(src, list) else src
        if cell.get('cell_type') == 'markdown':
            # the book numbers sections itself: "## 1. The forward process" would read "3.1. 1. The forward process"
            src = re.sub(r'^(#{2,6} )\d+(?:\.\d+)*\.? +(?=\S)', r'\1', src, flags=re.M)
            cell['source'] = _tags_outside_split(src)
        if cell.get('cell_type') != 'code': continue
        lines, directives = src.splitlines(), []
        kept = []
        for line in lines:
            m = _DIRECTIVE.match(line)
            if m: directives.append(m.group(1)); continue
            kept.append(line)
        while kept and not kept[0].strip(): kept.pop(0)
        cell['source'] = '\n'.join(kept)
        for d in directives:
            if d.startswith('default_exp'): module = d.split(None, 1)[1].strip() if len(d.split()) > 1 else None
            if d.split(':')[0].strip() in ('export', 'exports'): exported += _exported_names(cell['source'])
        tags = set(cell.setdefault('metadata', {}).get('tags', [])) | _tags_for(directives)
        if not kept: tags.add('remove-cell')
        if tags: cell['metadata']['tags'] = sorted(tags)
    _add_chapter_box(nb, module, exported)
    return json.dumps(nb)

def _on_source_read(app, docname, source):
    path = app.env.doc2path(docname)
    if str(path).endswith('.ipynb'):
        source[0] = rewrite_notebook(source[0])

# Docstrings are written in the notebooks' Markdown (`code`, $maths$), but autodoc parses them as
# reStructuredText, where `|x|`, `p_` or a lone backtick are markup errors. Translate the two
# constructs we use and escape every other RST special character.
# A segment may run over several lines of the docstring (a wrapped formula), never over a blank line;
# its line breaks become spaces, so that a formula continued on a line starting with "+" or "-" is not
# read as a list.
_SEGMENT = re.compile(r'(\$(?:[^$\n]|\n(?![ \t]*\n))+\$|`(?:[^`\n]|\n(?![ \t]*\n))+`)')

def _md_to_rst(text):
    parts = _SEGMENT.split(text)
    out = []
    for i, part in enumerate(parts):
        if not part: continue
        if i % 2:                                   # a $math$ or `code` segment
            body = re.sub(r'[ \t]*\n[ \t]*', ' ', part[1:-1])
            seg = ':math:`' + body.replace('`', "'") + '`' if part[0] == '$' else '``' + body.replace('``', '` `') + '``'
            # inline markup must touch whitespace on both sides: an escaped space ("\\ ") renders as nothing
            before, after = ''.join(parts[:i]), ''.join(parts[i + 1:])
            if before and not before[-1].isspace(): seg = '\\ ' + seg
            if after and not after[0].isspace(): seg = seg + '\\ '
            out.append(seg)
        else:
            out.append(re.sub(r'([\\*`|_<>\[\]])', r'\\\1', part))
    return ''.join(out)

def _on_docstring(app, what, name, obj, options, lines):
    lines[:] = _md_to_rst('\n'.join(lines)).split('\n')

def setup(app):
    app.connect('source-read', _on_source_read)
    app.connect('autodoc-process-docstring', _on_docstring)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
