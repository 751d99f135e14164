"""The README's way to run the chapters locally works: its `jupyter lab` command, run as written from the
repository root (headless: port, token and a no-op browser come from the environment), serves the
chapters; a chapter opened through the server's API gets a kernel that runs its cells with the
installed `srddpm`."""
import asyncio, json, os, re, signal, socket, subprocess, sys, tempfile, time, urllib.request, uuid
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]


def documented_command() -> str:
    "The README's command that starts JupyterLab on the chapters: the backticked command of its **Run** line."
    line = next((l for l in (ROOT / 'README.md').read_text().splitlines() if l.startswith('- **Run** the notebooks')), '')
    found = [c for c in re.findall(r'`([^`]+)`', line) if re.search(r'jupyter lab nbs/?$', c)]
    assert len(found) == 1, f'README.md: no `jupyter lab nbs/` command on its **Run** line: {line!r}'
    return found[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def _get(url: str, method='GET', body=None):
    req = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, json.loads(r.read() or b'null')


async def _execute(ws_url: str, codes: list[str]) -> list[dict]:
    "Run each code on the kernel through its websocket (Jupyter messaging protocol); return outputs per code."
    from tornado.websocket import websocket_connect
    ws = await websocket_connect(ws_url)
    session, results = uuid.uuid4().hex, []
    try:
        for code in codes:
            msg_id = uuid.uuid4().hex
            await ws.write_message(json.dumps({
                'header': dict(msg_id=msg_id, username='test', session=session, msg_type='execute_request',
                               version='5.3', date=time.strftime('%Y-%m-%dT%H:%M:%SZ')),
                'parent_header': {}, 'metadata': {}, 'channel': 'shell', 'buffers': [],
                'content': dict(code=code, silent=False, store_history=False, user_expressions={},
                                allow_stdin=False, stop_on_error=True)}))
            out = dict(stdout='', error=None, status=None)
            while True:
                raw = await asyncio.wait_for(ws.read_message(), timeout=120)
                assert raw is not None, 'the kernel websocket closed'
                m = json.loads(raw)
                if m.get('parent_header', {}).get('msg_id') != msg_id: continue
                t = m['header']['msg_type']
                if t == 'stream': out['stdout'] += m['content']['text']
                elif t == 'error': out['error'] = f"{m['content']['ename']}: {m['content']['evalue']}"
                elif t == 'execute_reply': out['status'] = m['content']['status']
                if t == 'status' and m['content']['execution_state'] == 'idle' and out['status'] is not None: break
                if t == 'execute_reply' and out['status'] is not None and m['channel'] == 'shell': pass
            results.append(out)
    finally:
        ws.close()
    return results


def test_documented_jupyter_lab_command(tmp_path):
    pytest.importorskip('jupyterlab', reason='JupyterLab comes with the `notebooks` extra (in `dev`)')
    cmd = documented_command()
    port, token = _free_port(), uuid.uuid4().hex
    env = dict(os.environ, JUPYTER_PORT=str(port), JUPYTER_TOKEN=token, BROWSER='true',   # no browser to open
               JUPYTER_RUNTIME_DIR=str(tmp_path / 'runtime'), JUPYTER_CONFIG_DIR=str(tmp_path / 'config'),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / 'workspaces'), SRDDPM_PROFILE='ci')
    (tmp_path / 'config').mkdir()
    # the test's own settings, in its own config folder: CI runs as root (Jupyter refuses root unless told), and
    # the Lab's extension manager would look up PyPI
    (tmp_path / 'config' / 'jupyter_server_config.json').write_text(json.dumps(
        {'ServerApp': {'allow_root': os.geteuid() == 0}, 'LabApp': {'extension_manager': 'readonly'}}))
    log = open(tmp_path / 'lab.log', 'w')
    proc = subprocess.Popen(cmd, shell=True, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f'http://127.0.0.1:{port}'
    try:
        for _ in range(120):
            try:
                if _get(f'{base}/api/status?token={token}')[0] == 200: break
            except OSError: pass
            assert proc.poll() is None, (tmp_path / 'lab.log').read_text()[-3000:]
            time.sleep(0.5)
        else:
            pytest.fail('JupyterLab did not answer within 60 s:\n' + (tmp_path / 'lab.log').read_text()[-3000:])
        with urllib.request.urlopen(f'{base}/lab?token={token}', timeout=30) as r:
            assert r.status == 200 and b'JupyterLab' in r.read(), 'the Lab page itself is served'
        status, nb = _get(f'{base}/api/contents/00_core.ipynb?token={token}')
        assert status == 200 and nb['type'] == 'notebook', 'the server serves nbs/: the chapters'
        cells = [c['source'] for c in nb['content']['cells'] if c['cell_type'] == 'code']
        first_export = next(c for c in cells if c.startswith('#| export'))
        status, sess = _get(f'{base}/api/sessions?token={token}', 'POST',
                            dict(path='00_core.ipynb', type='notebook', name='', kernel=dict(name='python3')))
        assert status == 201, sess
        ws = f'ws://127.0.0.1:{port}/api/kernels/{sess["kernel"]["id"]}/channels?token={token}'
        probe = ('import sys, srddpm\nfrom srddpm.core import get_profile\n'
                 'print(sys.executable); print(srddpm.__file__); print(get_profile())')
        chapter_cell, where = asyncio.run(_execute(ws, [first_export, probe]))
        assert chapter_cell['status'] == 'ok' and chapter_cell['error'] is None, chapter_cell
        assert where['status'] == 'ok', where
        python, module, profile = where['stdout'].split()
        assert Path(python).parent == Path(sys.executable).parent, f'the kernel runs {python}, not the venv'
        assert Path(module).resolve() == (ROOT / 'srddpm' / '__init__.py').resolve(), module
        assert profile == 'ci'
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try: proc.wait(timeout=20)
            except subprocess.TimeoutExpired: os.killpg(proc.pid, signal.SIGKILL); proc.wait()
        log.close()
