"""Check that the notebooks are clean and that srddpm/ is exactly what they export.

Runs `nbdev-clean` and `nbdev-export` in a scratch copy (the work tree is never touched) with
srddpm/ emptied first (but for __init__.py, where nbdev keeps the version), then compares: a notebook that nbdev-clean would change, a module edited
by hand, a notebook not exported, or a module no notebook produces all fail the check.
"""
import filecmp, shutil, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

def files(d: Path, pattern: str):
    return {p.relative_to(d) for p in d.rglob(pattern) if '__pycache__' not in p.parts and '.ipynb_checkpoints' not in p.parts}

def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        shutil.copy(ROOT / 'pyproject.toml', tmp)
        shutil.copytree(ROOT / 'nbs', tmp / 'nbs', ignore=shutil.ignore_patterns('.ipynb_checkpoints'))
        (tmp / 'srddpm').mkdir()
        # nbdev keeps the package version in srddpm/__init__.py (an input to nbdev-export, bumped by nbdev-bump-version)
        if (ROOT / 'srddpm' / '__init__.py').exists(): shutil.copy(ROOT / 'srddpm' / '__init__.py', tmp / 'srddpm')
        for cmd in ('nbdev-clean', 'nbdev-export'):
            r = subprocess.run([str(BIN / cmd)], cwd=tmp, capture_output=True, text=True)
            if r.returncode: print(f'{cmd} failed:\n{r.stdout}{r.stderr}'); return 1
        problems = []
        for rel in sorted(files(ROOT / 'nbs', '*.ipynb')):
            if not filecmp.cmp(ROOT / 'nbs' / rel, tmp / 'nbs' / rel, shallow=False):
                problems.append(f'nbs/{rel}: not clean (run nbdev-clean and commit the result)')
        mine, theirs = files(ROOT / 'srddpm', '*.py'), files(tmp / 'srddpm', '*.py')
        for rel in sorted(mine | theirs):
            if rel not in theirs: problems.append(f'srddpm/{rel}: no notebook exports this file (move its code into a notebook)')
            elif rel not in mine: problems.append(f'srddpm/{rel}: missing (run nbdev-export and commit)')
            elif not filecmp.cmp(ROOT / 'srddpm' / rel, tmp / 'srddpm' / rel, shallow=False):
                problems.append(f'srddpm/{rel}: differs from what the notebooks export (edited by hand, or a notebook not exported)')
    if problems:
        print('Notebooks and library are out of sync:\n  ' + '\n  '.join(problems))
        return 1
    print(f'notebooks clean and in sync with srddpm/ ({len(mine)} modules)')
    return 0

if __name__ == '__main__':
    sys.exit(main())
