"""Package a finished training run as the weights shipped with srddpm.

    python tools/ship_weights.py runs/x4_shipped [--note encoder="..."]

Copies the run's final model (`final/model.safetensors`, `final/config.json`, written by `save_srddpm`) into
`srddpm/weights/srddpm_x4/` and writes `training.json` beside them: the recipe, the steps and seconds of every
stage (from its CSV log, cumulative over resumes), the machine and the date, so that the package says where its
weights came from. The model is loaded back first (safetensors only): a broken run is refused, nothing is copied.
"""
from __future__ import annotations
import argparse, datetime, json, shutil, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from nbexec import ROOT, machine  # noqa: E402

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('run', type=Path, help='a folder written by `srddpm train` (with final/ and recipe.json)')
    ap.add_argument('--config', default='srddpm_x4_small', help='the config the run was started with (recorded)')
    ap.add_argument('--note', action='append', default=[], metavar='STAGE=TEXT', help='a remark recorded with a stage')
    a = ap.parse_args()
    from srddpm.recipe import load_srddpm, STAGE_NAMES
    from srddpm.training import read_log
    run, dest = a.run, ROOT / 'srddpm' / 'weights' / 'srddpm_x4'
    model = load_srddpm(run / 'final', device='cpu')           # refuses a missing, truncated or mismatched model
    notes = dict(n.split('=', 1) for n in a.note)
    stages = []
    for k, name in enumerate(STAGE_NAMES):
        d = run / f'stage{k}_{name}'
        if not (d / 'done.json').is_file(): continue
        done, log = json.loads((d / 'done.json').read_text()), read_log(d / 'log.csv')
        st = dict(name=name, steps=int(done['step']), seconds=round(log[-1]['seconds'], 1))
        if name in notes: st['note'] = notes.pop(name)
        stages.append(st)
    if notes: ap.error(f'--note for stage(s) that did not run: {sorted(notes)}')
    record = dict(command=f'srddpm train --config {a.config} --out {run}', machine=machine(),
                  date=datetime.date.fromtimestamp((run / 'final' / 'config.json').stat().st_mtime).isoformat(),
                  parameters=sum(p.numel() for p in model.parameters()),
                  recipe=json.loads((run / 'recipe.json').read_text()), stages=stages)
    dest.mkdir(parents=True, exist_ok=True)
    for f in ('model.safetensors', 'config.json'): shutil.copyfile(run / 'final' / f, dest / f)
    (dest / 'training.json').write_text(json.dumps(record, indent=1) + '\n')
    print(f'shipped {run / "final"} -> {dest.relative_to(ROOT)} ({(dest / "model.safetensors").stat().st_size / 1e6:.1f} MB); '
          + ', '.join(f"{s['name']} {s['steps']} steps in {s['seconds'] / 60:.1f} min" for s in stages))
    return 0

if __name__ == '__main__':
    sys.exit(main())
