"""What a reader outside the checkout meets: the chapters' install cell, the dependency bounds, and one
repository URL everywhere it is written."""
import importlib.metadata, importlib.util, re, sys, tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tools'))
from colab_cell import TORCH_MIN, cell_source  # noqa: E402

REPO = yaml.safe_load((ROOT / '_config.yml').read_text())['repository']['url']
OWNER, NAME = re.fullmatch(r'https://github\.com/([^/]+)/([^/]+)', REPO).groups()
BOOK = f'https://{OWNER}.github.io/{NAME}/'          # where GitHub Pages publishes the book workflow's site
PYPROJECT = tomllib.loads((ROOT / 'pyproject.toml').read_text())
README = (ROOT / 'README.md').read_text()


class FakeIPython:
    def __init__(self): self.magics = []
    def run_line_magic(self, name, line): self.magics.append((name, line))


def run_install_cell(monkeypatch, srddpm_installed: bool, torch_version):
    "The cell as IPython runs it, with the library installed or not and a given torch (None: no torch)."
    from IPython.core.inputtransformer2 import TransformerManager
    code = TransformerManager().transform_cell(cell_source())
    real_find_spec, real_version = importlib.util.find_spec, importlib.metadata.version
    def find_spec(name, *a):
        if name == 'srddpm': return real_find_spec(name) if srddpm_installed else None
        return real_find_spec(name, *a)
    def version(name):
        if name != 'torch': return real_version(name)
        if torch_version is None: raise importlib.metadata.PackageNotFoundError(name)
        return torch_version
    monkeypatch.setattr(importlib.util, 'find_spec', find_spec)
    monkeypatch.setattr(importlib.metadata, 'version', version)
    ip = FakeIPython()
    exec(compile(code, 'install-cell', 'exec'), {'get_ipython': lambda: ip})
    return ip.magics


def test_install_cell_does_nothing_where_srddpm_is_installed(monkeypatch):
    assert run_install_cell(monkeypatch, True, '2.14.1') == []


@pytest.mark.parametrize('torch_version', ['2.13.0+cpu', '2.14.1', '2.15.0+cu130', '3.0.0', None])
def test_install_cell_installs_on_top_of_the_readers_torch(monkeypatch, torch_version):
    "Colab's torch (or none at all): one `%pip install` of the repository, which keeps that torch (lower bounds only)."
    assert run_install_cell(monkeypatch, False, torch_version) == [('pip', f'install -q "srddpm @ git+{REPO}"')]


@pytest.mark.parametrize('torch_version', ['2.12.1', '2.9.1+cu126', '1.13.1'])
def test_install_cell_refuses_an_older_torch_in_one_line(monkeypatch, torch_version):
    "The cell stops (so does `Run all`), and IPython shows the message alone: what is wrong and what to do."
    with pytest.raises(Exception) as e:
        run_install_cell(monkeypatch, False, torch_version)
    msg = f'srddpm needs torch >= 2.13; this has {torch_version}. Upgrade it (pip install -U torch) and restart.'
    assert str(e.value) == msg and e.value._render_traceback_() == [msg]


def test_install_cell_message_in_a_real_kernel(tmp_path):
    "In a real IPython kernel the refusal is one line of output, no traceback, and the cell counts as failed."
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    fake = ('import importlib.util, importlib.metadata as md\n'
            "real_find, real_version = importlib.util.find_spec, md.version\n"
            "importlib.util.find_spec = lambda n, *a: None if n == 'srddpm' else real_find(n, *a)\n"
            "md.version = lambda n: '2.5.1' if n == 'torch' else real_version(n)")
    install = cell_source().replace('#| eval: false\n', '')
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(fake), nbformat.v4.new_code_cell(install)])
    with pytest.raises(CellExecutionError):
        NotebookClient(nb, timeout=120, kernel_name='python3', resources={'metadata': {'path': str(tmp_path)}}).execute()
    (err,) = nb.cells[1].outputs
    assert err.output_type == 'error' and err.ename == 'TorchTooOld'
    assert err.traceback == ['srddpm needs torch >= 2.13; this has 2.5.1. Upgrade it (pip install -U torch) and restart.']


def test_one_lower_bound_of_torch_everywhere():
    deps = PYPROJECT['project']['dependencies']
    assert f'torch>={TORCH_MIN[0]}.{TORCH_MIN[1]}' in deps, deps
    assert not any(re.match(r'torch(vision)?\s*==', d) for d in deps), 'no exact pin of torch in the dependencies'
    assert not any(d.startswith('torchvision') for d in deps), 'torchvision is the optional `vision` extra'
    assert all(re.search(r'>=|<', d) for d in deps), f'every dependency has a lower bound: {deps}'
    binder = (ROOT / 'requirements.txt').read_text()
    assert f'torch>={TORCH_MIN[0]}.{TORCH_MIN[1]}' in binder and 'download.pytorch.org/whl/cpu' in binder
    lock = (ROOT / 'requirements-lock.txt').read_text()
    assert re.search(r'^torch==', lock, re.M), 'the exact torch make installs is in the lock file'


def test_one_repository_url():
    "The URL is set in _config.yml; every copy agrees with it, and the book's URL is its GitHub Pages site."
    urls = PYPROJECT['project']['urls']
    assert urls['Repository'] == REPO and urls['Homepage'] == BOOK
    assert urls['Changelog'] == f'{REPO}/blob/main/CHANGELOG.md'
    cff = yaml.safe_load((ROOT / 'CITATION.cff').read_text())
    assert cff['repository-code'] == REPO and cff['url'] == BOOK
    assert cff['preferred-citation']['url'] == BOOK and cff['version'] == PYPROJECT_VERSION()
    assert yaml.safe_load((ROOT / '_config.yml').read_text())['html']['baseurl'] == BOOK
    assert f'git+{REPO}' in cell_source()
    head = README[:README.index('\n## ')]
    assert BOOK in head, 'the README says where the book is read, in its first lines'
    assert 'pip install srddpm' in head and f'git+{REPO}' in head, 'and how to install'
    assert 'colab.research.google.com/github/' in head, 'and how to open a chapter on Colab'


def PYPROJECT_VERSION():
    return re.search(r'__version__ = "(.+)"', (ROOT / 'srddpm' / '__init__.py').read_text()).group(1)


def test_readme_links_work_on_pypi():
    "PyPI shows the README without the repository around it: every link is absolute, every chapter link exists."
    targets = re.findall(r'\]\(([^)\s]+)\)', README) + re.findall(r'href="([^"]+)"', README)
    assert targets
    relative = [t for t in targets if not re.match(r'https?://|mailto:', t)]
    assert not relative, f'relative links break on PyPI: {relative}'
    for owner, name, branch, path in re.findall(
            r'https://(?:colab\.research\.google\.com/github|github\.com)/([^/]+)/([^/]+)/(?:blob|tree)/([^/]+)/([^)#?\s]+)', README):
        assert f'https://github.com/{owner}/{name}' == REPO and branch == 'main', (owner, name, branch)
        assert (ROOT / path).exists(), f'README links to {path}, which is not in the repository'
