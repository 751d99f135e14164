"""Every chapter in _toc.yml, executed top to bottom at the `ci` profile: one test per chapter.

`pytest -k 10_diffusion` runs one chapter. The executed copies are kept in _build/executed/ so
that `make test`'s book build renders them instead of running every notebook a second time.
"""
import os, sys
from pathlib import Path
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'tools'))
from nbexec import execute, toc_notebooks  # noqa: E402

NOTEBOOKS = toc_notebooks()

@pytest.mark.parametrize('path', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_chapter_runs(path):
    profile = os.environ.get('SRDDPM_PROFILE', 'ci')
    nb, seconds = execute(path, profile)
    errors = [o for c in nb.cells if c.cell_type == 'code' for o in c.get('outputs', []) if o.get('output_type') == 'error']
    assert not errors, f'{path.name}: error outputs {errors}'
    print(f'{path.name}: {seconds:.1f} s at profile {profile}')
