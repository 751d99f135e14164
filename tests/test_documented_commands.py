"""Every training command that README.md or the book documents, run exactly as written (in an empty scratch
working folder: the configurations are named by stem and ship with the package; with the virtual environment's `srddpm` and `torchrun` on the PATH).

- Commands that can run at the `ci` profile run to the end: the two-process `torchrun` command of chapter 26 is
  the data-parallel check of the CLI (one run, identical weights on both ranks, a different shard per rank, one
  final line).
- Commands of a configuration file take an hour (the shipped weights) or days (the DIV2K run on a GPU): they run
  as written until the run is set up — arguments parsed, configuration read, processes joined, folder checked,
  `recipe.json` written with its global batch — and are then stopped. Their training is the same code path as the
  `ci` runs.
A command added to the documentation is picked up here; one this file cannot classify fails the test."""
import json, os, re, shlex, shutil, signal, subprocess, sys, time
from pathlib import Path
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def documented_train_commands() -> dict[str, list[str]]:
    "{command: [where]} for every `srddpm train` / `srddpm.cli train` command in README.md and the notebooks."
    texts = {'README.md': (ROOT / 'README.md').read_text()}
    for nb in sorted((ROOT / 'nbs').glob('*.ipynb')):
        cells = json.loads(nb.read_text())['cells']
        texts[nb.name] = '\n'.join(''.join(c['source']) for c in cells if c['cell_type'] == 'markdown')
    for md in sorted((ROOT / 'nbs').glob('*.md')): texts[md.name] = md.read_text()
    found = {}
    for where, text in texts.items():
        blocks = re.findall(r'```[a-z]*\n(.*?)```', text, flags=re.S)
        candidates = [l for b in blocks for l in b.splitlines()]
        candidates += re.findall(r'`([^`\n]+)`', re.sub(r'```.*?```', '', text, flags=re.S))
        for line in candidates:
            cmd = line.split(' #')[0].strip()
            if not re.search(r'\bsrddpm(\.cli)? train\b', cmd) or '--' not in cmd: continue
            if re.search(r'\[|\bFILE\b|\bDIR\b', cmd): continue           # a usage synopsis, not a command
            found.setdefault(' '.join(shlex.split(cmd)), []).append(where)
    return found


COMMANDS = documented_train_commands()
RUN_TO_END = {c for c in COMMANDS if '--config' not in c}
SET_UP_ONLY = {c for c in COMMANDS if '--config' in c}


def test_the_documented_commands_are_found():
    "The extraction sees the commands this file was written for (so that an empty list cannot pass)."
    assert 'SRDDPM_DEVICE=cpu torchrun --standalone --nproc_per_node 2 -m srddpm.cli train --profile ci --out ddp_ci' \
        in RUN_TO_END
    assert 'torchrun --standalone --nproc_per_node 8 -m srddpm.cli train --config div2k_x4_full ' \
           '--out runs/div2k_x4' in SET_UP_ONLY
    assert any('--config srddpm_x4_small ' in c for c in SET_UP_ONLY)
    for c in COMMANDS:                  # every command runs the package's own entry points
        words = shlex.split(c)
        prog = next(w for w in words if '=' not in w)
        assert prog in ('srddpm', 'torchrun'), c


@pytest.fixture
def workdir(tmp_path):
    return tmp_path                          # empty: nothing of the checkout is needed


def _env(words):
    env = {k: v for k, v in os.environ.items() if k not in ('SRDDPM_DIV2K', 'SRDDPM_PROFILE')}
    env.update(PATH=f'{BIN}{os.pathsep}{os.environ.get("PATH", "")}', SRDDPM_PROGRESS='0', OMP_NUM_THREADS='1')
    while words and re.fullmatch(r'[A-Z_][A-Z0-9_]*=.*', words[0]):      # VAR=value prefixes, as a shell reads them
        k, v = words.pop(0).split('=', 1); env[k] = v
    return words, env


def _descendants(pid: int) -> list[int]:
    "Process ids below `pid` (Linux /proc), to stop torchrun's workers, which run in sessions of their own."
    children = {}
    for stat in Path('/proc').glob('[0-9]*/stat'):
        try: fields = stat.read_text().rsplit(')', 1)[1].split()
        except (OSError, IndexError): continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []): out.append(c); todo.append(c)
    return out


def _stop(p: subprocess.Popen):
    below = _descendants(p.pid)
    p.send_signal(signal.SIGTERM)
    try: p.wait(timeout=30)
    except subprocess.TimeoutExpired: p.kill(); p.wait()
    for pid in below + _descendants(p.pid):
        try: os.kill(pid, signal.SIGKILL)
        except ProcessLookupError: pass


@pytest.mark.parametrize('command', sorted(RUN_TO_END))
def test_runs_to_the_end(command, workdir):
    words, env = _env(shlex.split(command))
    env['SRDDPM_PROFILE'] = 'ci'                # the documented command has no --config: the ci preset applies
    r = subprocess.run(words, cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    out = workdir / words[words.index('--out') + 1]
    lines = [l for l in r.stdout.splitlines() if l.strip()]
    assert lines[-1] == f'trained model written to {out.relative_to(workdir) / "final"}'
    assert sum('trained model written' in l for l in lines) == 1, r.stdout
    recipe = json.loads((out / 'recipe.json').read_text())
    world = int(words[words.index('--nproc_per_node') + 1]) if 'torchrun' in words else 1
    batch = recipe['data']['batch_size']
    stages = list(recipe['global_batch'])          # the stages with steps at this profile, in order
    assert stages[:2] == ['encoder', 'diffusion'] and set(stages) <= {'encoder', 'diffusion', 'adversarial'}
    assert recipe['world_size'] == world and recipe['global_batch'] == {s: world * batch for s in stages}
    fingerprints = {}
    for k, stage in enumerate(stages):
        done = json.loads((out / f'stage{k}_{stage}' / 'done.json').read_text())
        assert done['world_size'] == world and done['global_batch'] == world * batch
        ranks = done['ranks']
        assert [r['rank'] for r in ranks] == list(range(world))
        assert len({r['weights'] for r in ranks}) == 1 and len({r['ema'] for r in ranks}) == 1, 'one model on all ranks'
        assert len({r['first_batch'] for r in ranks}) == world, 'each rank reads its own shard'
        fingerprints[stage] = ranks[0]
    assert sum(f'global batch {world * batch} ' in l for l in lines) == len(stages), 'each stage reports its global batch'
    from srddpm.recipe import load_srddpm
    from srddpm.training import read_checkpoint, state_digest
    ck = read_checkpoint(out / 'stage1_diffusion', load_state=False)
    assert ck['meta']['world_size'] == world and state_digest(ck['model']) == fingerprints['diffusion']['weights']
    # the diffusion stage's EMA, every rank's, is the model the later stage starts from (or the final one)
    stage1 = load_srddpm(out / ('stage1_model' if 'adversarial' in stages else 'final'))
    assert state_digest(stage1.state_dict()) == fingerprints['diffusion']['ema'], 'the EMA every rank agreed on'


@pytest.mark.parametrize('command', sorted(SET_UP_ONLY, key=lambda c: ('--resume' in c, c)))
def test_sets_up_as_written(command, workdir):
    words, env = _env(shlex.split(command))
    world = int(words[words.index('--nproc_per_node') + 1]) if 'torchrun' in words else 1
    out = workdir / words[words.index('--resume' if '--resume' in words else '--out') + 1] if (
        '--out' in words or '--resume' in words) else workdir / 'runs' / 'srddpm_x4'
    if '--resume' in words:           # a run folder to resume, as the command with --out leaves it at the start
        out.mkdir(parents=True); (out / 'recipe.json').write_text('{}')
    gpus = torch.cuda.device_count()
    cuda = (os.environ.get('SRDDPM_DEVICE') or ('cuda' if gpus else 'cpu')).startswith('cuda')
    p = subprocess.Popen(words, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if cuda and world > gpus:      # fewer GPUs than processes: a clear error from every rank, nothing written
            _, err = p.communicate(timeout=300)
            assert p.returncode != 0 and f'{world} processes per node but {gpus} GPU' in err, err[-2000:]
            return
        deadline, recipe = time.time() + 300, None
        while time.time() < deadline:
            if (out / 'recipe.json').is_file():
                try: recipe = json.loads((out / 'recipe.json').read_text())
                except ValueError: recipe = None
                if recipe and 'world_size' in recipe: break
            assert p.poll() is None, f'{command} stopped early:\n{p.stderr.read()[-3000:]}'
            time.sleep(0.2)
        else: raise AssertionError(f'{command}: no recipe.json after 300 s')
    finally: _stop(p)
    from srddpm.recipe import RecipeConfig
    name = words[words.index('--config') + 1]                  # a path in the working folder, or a shipped one's stem
    cfg = RecipeConfig.from_file(workdir / name if (workdir / name).is_file() else name)
    assert recipe['world_size'] == world
    assert recipe['global_batch'] == {n: world * st.batch_size for n, st in cfg.stages.items() if st is not None}
    assert recipe['stages'] == cfg.to_dict()['stages']


def test_cli_errors_under_torchrun_are_one_line(workdir):
    "A mistake is reported once, by rank 0, and every process stops (none waits for the others)."
    words, env = _env(shlex.split('SRDDPM_DEVICE=cpu torchrun --standalone --nproc_per_node 2 -m srddpm.cli train '
                                  '--profile ci --resume runs/none'))
    r = subprocess.run(words, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    errors = [l for l in r.stderr.splitlines() if l.startswith('srddpm: error:')]
    assert errors == ['srddpm: error: runs/none: no run to resume there'], r.stderr[-2000:]


def documented_use_commands() -> list[str]:
    "Every `srddpm upscale` / `srddpm evaluate` command line in README.md's code blocks, as written."
    blocks = re.findall(r'```[a-z]*\n(.*?)```', (ROOT / 'README.md').read_text(), flags=re.S)
    return [l.split(' #')[0].strip() for b in blocks for l in b.splitlines()
            if re.match(r'srddpm (upscale|evaluate)\b', l.strip())]


def test_readme_upscale_and_evaluate_commands_run_as_written(tmp_path):
    """README's upscale and evaluate lines run exactly as written (photo.png: a photograph's 60x80 crop; DIR: a
    folder of two HR crops; runs/x4: a run folder holding a model) and write what they say."""
    commands = documented_use_commands()
    assert any('--method bicubic' in c for c in commands) and any(c.startswith('srddpm evaluate') for c in commands)
    from srddpm.data import load_photo, center_crop
    from srddpm.cli import default_checkpoint
    from PIL import Image
    Image.fromarray(center_crop(load_photo('chelsea'), 80)[:60]).save(tmp_path / 'photo.png')
    (tmp_path / 'DIR').mkdir()
    for name in ('chelsea', 'flower'):
        Image.fromarray(center_crop(load_photo(name), 96)).save(tmp_path / 'DIR' / f'{name}.png')
    shutil.copytree(default_checkpoint(), tmp_path / 'runs' / 'x4' / 'final')
    env = dict(os.environ, PATH=f'{BIN}{os.pathsep}{os.environ["PATH"]}', SRDDPM_PROGRESS='0')
    for command in commands:
        (tmp_path / 'photo_x4.png').unlink(missing_ok=True)
        r = subprocess.run(command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, (command, r.stderr[-2000:])
        if 'upscale' in command:
            from PIL import Image
            assert Image.open(tmp_path / 'photo_x4.png').size == (320, 240), command
        else:
            assert 'bicubic' in r.stdout and 'chelsea' in r.stdout, r.stdout
