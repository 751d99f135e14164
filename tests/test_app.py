"""`srddpm serve` for real: the server in a subprocess on a free port, driven by headless Chromium (Selenium) and by
`gradio_client`, as a user and a script would. Small photos and few steps keep it short."""
import os, signal, socket, subprocess, sys, threading, time, urllib.request
from pathlib import Path
import numpy as np
import pytest
from PIL import Image

pytest.importorskip('gradio', reason="the web app needs pip install 'srddpm[app]'")
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
    d = tmp_path_factory.mktemp('photos')
    rng = np.random.default_rng(0)
    for name, (h, w) in {'a.png': (40, 48), 'b.png': (24, 36), 'c.png': (20, 28)}.items():
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(d / name)
    (d / 'text.png').write_text('not an image')
    return d


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    "The installed command's code path (`python -m srddpm.cli serve`), its temporary folder under a TMPDIR of ours."
    tmp = tmp_path_factory.mktemp('serve_tmp')
    port = _free_port()
    env = dict(os.environ, TMPDIR=str(tmp), OMP_NUM_THREADS='1', SRDDPM_PROGRESS='0')
    proc = subprocess.Popen([sys.executable, '-m', 'srddpm.cli', 'serve', '--port', str(port), '-q'], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f'http://127.0.0.1:{port}/'
    t0 = time.time()
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if proc.poll() is not None: pytest.fail(f'srddpm serve exited: {proc.stdout.read()[-2000:]}')
            if time.time() - t0 > 180: proc.kill(); pytest.fail('srddpm serve did not answer within 180 s')
            time.sleep(0.5)
    assert list(tmp.glob('srddpm-serve-*')), 'uploads and results live in a temporary folder of the app'
    yield url
    # SIGTERM (kill, systemd, docker stop): the app turns it into Ctrl+C's KeyboardInterrupt, one way out for both
    proc.send_signal(signal.SIGTERM)
    try: proc.wait(timeout=30)
    except subprocess.TimeoutExpired: proc.kill(); pytest.fail('srddpm serve did not stop on SIGTERM')
    out = proc.stdout.read()
    assert not list(tmp.glob('srddpm-serve-*')), 'the app removes its temporary folder at exit'
    # Gradio logs its own refusals (a value outside a slider) with a traceback on the console; none may pass
    # through srddpm's code (that would be a bug)
    assert f'File "{ROOT / "srddpm"}' not in out, out[-3000:]


@pytest.fixture(scope='module')
def browser():
    if not (Path('/usr/bin/chromium').exists() and Path('/usr/bin/chromedriver').exists()):
        pytest.skip("Debian's chromium and chromium-driver are needed (make browser-deps)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    sys.path.insert(0, str(ROOT / 'tools'))
    from browser_check import CHROME_FLAGS
    opts = webdriver.ChromeOptions()
    opts.binary_location = '/usr/bin/chromium'
    for f in CHROME_FLAGS: opts.add_argument(f)
    d = webdriver.Chrome(options=opts, service=Service('/usr/bin/chromedriver'))
    yield d
    d.quit()


def _wait(cond, timeout=90, every=0.05):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = cond()
        if v: return v
        time.sleep(every)
    raise AssertionError('timed out waiting on the page')


def _upload(d, path):
    from selenium.webdriver.common.by import By
    clear = d.find_elements(By.CSS_SELECTOR, '#photo button[aria-label="Clear"]')
    if clear: clear[0].click()
    _wait(lambda: d.find_elements(By.CSS_SELECTOR, '#photo input[type=file]'))[0].send_keys(str(path))
    _wait(lambda: path.stem in d.find_element(By.ID, 'photo').text)


def test_page_upscales_with_estimate_and_progress(server, browser, photos):
    "Upload, see the estimate, press Upscale, watch the progress bar, get the x4 result on the slider, offline."
    from selenium.webdriver.common.by import By
    d = browser
    d.get(server)
    _upload(d, photos / 'a.png')
    assert _wait(lambda: 'on this machine' in d.find_element(By.ID, 'estimate').text and
                 d.find_element(By.ID, 'estimate').text).startswith('48×40 → 192×160')
    d.find_element(By.ID, 'upscale').click()
    progress = False
    def done():
        nonlocal progress
        progress = progress or bool(d.find_elements(By.CSS_SELECTOR, '.progress-level'))
        imgs = d.find_elements(By.CSS_SELECTOR, '#result img')
        sizes = [d.execute_script('return [arguments[0].naturalWidth, arguments[0].naturalHeight]', i) for i in imgs]
        return sizes if len(sizes) == 2 and all(s[0] for s in sizes) else None
    sizes = _wait(done)
    assert sizes == [[192, 160], [192, 160]], sizes          # before (nearest neighbour) and after, both x4
    assert progress, 'the progress bar never appeared'
    info = d.find_element(By.ID, 'info').text
    assert '48×40 → 192×160' in info and 's per output MP' in info, info
    assert 'a_x4' in d.find_element(By.ID, 'download').text
    # nothing but the server itself was asked for anything: no fonts, scripts or analytics from outside
    urls = d.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    outside = [u for u in urls if not u.startswith(server) and not u.startswith('data:')]
    assert not outside, outside


def test_page_refuses_a_non_image_in_one_line_then_goes_on(server, browser, photos):
    from selenium.webdriver.common.by import By
    d = browser
    d.get(server)
    _upload(d, photos / 'text.png')
    d.find_element(By.ID, 'upscale').click()
    toast = _wait(lambda: ' '.join(t.text for t in d.find_elements(By.CSS_SELECTOR, '.toast-body'))
                  if 'not a readable image' in d.page_source else None)
    assert 'text.png: not a readable image' in toast and '/tmp' not in toast and 'Traceback' not in toast, toast
    _upload(d, photos / 'c.png')
    d.find_element(By.ID, 'upscale').click()
    _wait(lambda: 'c_x4' in d.find_element(By.ID, 'download').text)
    assert '28×20 → 112×80' in d.find_element(By.ID, 'info').text


def test_api_two_clients_at_once_get_the_cli_image(server, photos, tmp_path):
    "Two clients at once each get their own result, and it is byte for byte what `srddpm upscale` writes with the same seed."
    from gradio_client import Client, handle_file
    from srddpm.cli import main
    jobs = {'a.png': 1, 'b.png': 2}
    results, errors = {}, []
    def call(name, seed):
        try:
            client = Client(server, verbose=False)
            results[name] = client.predict(handle_file(str(photos / name)), steps=1, seed=seed, api_name='/upscale')
        except Exception as e: errors.append(repr(e))
    threads = [threading.Thread(target=call, args=kv) for kv in jobs.items()]
    for t in threads: t.start()
    for t in threads: t.join(timeout=300)
    assert not errors, errors
    for name, seed in jobs.items():
        png, slider, info = results[name]
        assert main(['upscale', str(photos / name), '-o', str(tmp_path / name), '--steps', '1', '--seed', str(seed),
                     '-q']) == 0
        assert Path(png).read_bytes() == (tmp_path / name).read_bytes(), name
        w, h = Image.open(photos / name).size
        assert f'{w}×{h} → {4 * w}×{4 * h}' in info and f'seed {seed}' in info


def test_api_refuses_what_the_cli_refuses(server, photos):
    "Options out of the CLI's ranges are refused in one line: by the page's own bounds, or in the CLI's words."
    from gradio_client import Client, handle_file
    client = Client(server, verbose=False)
    for kw, needle in ((dict(steps=0), 'minimum value 1'), (dict(eta=2), 'maximum value 1'),
                       (dict(steps=2.5), '--steps must be a whole number'), (dict(method='magic'), 'magic')):
        with pytest.raises(Exception) as e:
            client.predict(handle_file(str(photos / 'c.png')), api_name='/upscale', **kw)
        msg = str(e.value)
        assert needle in msg and '\n' not in msg and '/tmp' not in msg, (kw, msg)


API_ORDER = ['image', 'method', 'steps', 'average', 'seed', 'project', 'eta', 'texture', 'keep_smooth']

def test_api_keeps_its_positional_order(tmp_path):
    """The `upscale` endpoint's inputs keep their order, a newer option last: scripts passing (image, method, steps,
    average, seed, project, eta) by position keep working. The defaults are the command line's."""
    from srddpm.app import UpscaleApp, build_app
    from srddpm.cli import default_checkpoint
    from srddpm.recipe import load_srddpm
    from srddpm.inference import UPSCALE_STEPS, UPSCALE_PROJECT, UPSCALE_TEXTURE
    demo = build_app(UpscaleApp(load_srddpm(default_checkpoint()), tmp_path))
    params = demo.get_api_info()['named_endpoints']['/upscale']['parameters']
    assert [p['parameter_name'] for p in params] == API_ORDER
    assert [p.get('parameter_default') for p in params][1:] == ['srddpm', UPSCALE_STEPS, 1, 0, UPSCALE_PROJECT, 0,
                                                                UPSCALE_TEXTURE, True]


@pytest.fixture(scope='module')
def local_app(tmp_path_factory, photos):
    "The app without its page, on the shipped weights loaded as the command line loads them, reading `photos`."
    import torch
    from srddpm.app import UpscaleApp
    from srddpm.cli import default_checkpoint
    from srddpm.recipe import load_srddpm
    model = load_srddpm(default_checkpoint()).to(memory_format=torch.channels_last)
    return UpscaleApp(model, tmp_path_factory.mktemp('results'), photos)


def test_texture_reaches_the_service(local_app, photos):
    "app.run(texture=...) is upscale_photo with that texture: 0 is the regression, 1 the full chain; the line names it."
    from srddpm.inference import UpscaleOptions, UpscaleError, upscale_photo, UPSCALE_TEXTURE
    from srddpm.data import read_image
    path = photos / 'c.png'
    zero, regression = local_app.run(path, texture=0), local_app.run(path, method='regression')
    assert zero['png'].read_bytes() == regression['png'].read_bytes()
    assert "texture 0 (the regression's output)" in zero['info'], zero['info']
    img = read_image(path, alpha=True)
    for t in (1, 0.35):
        got = local_app.run(path, steps=2, texture=t)
        want = upscale_photo(img, UpscaleOptions(steps=2, texture=t), local_app.model).image
        assert np.array_equal(got['image'], want), t
        assert f'DDIM-2 × 1, texture {t:g},' in got['info'], got['info']
    default = local_app.run(path, steps=2)
    assert f'texture {UPSCALE_TEXTURE:g},' in default['info'] and not np.array_equal(default['image'], got['image'])
    assert 'on this machine' in local_app.estimate(path, texture=0.5)
    for bad in (2, -0.1, float('nan'), 'abc'):
        with pytest.raises(UpscaleError, match='--texture') as e: local_app.run(path, texture=bad)
        assert '\n' not in str(e.value)


def test_keep_smooth_reaches_the_service(local_app, photos):
    "app.run(keep_smooth=False) is upscale_photo without the smooth gate; the default keeps it, as the command line."
    from srddpm.inference import UpscaleOptions, upscale_photo
    from srddpm.data import read_image
    path = photos / 'c.png'
    img = read_image(path, alpha=True)
    for keep in (True, False):
        got = local_app.run(path, steps=2, keep_smooth=keep)['image']
        assert np.array_equal(got, upscale_photo(img, UpscaleOptions(steps=2, keep_smooth=keep), local_app.model).image)
    assert local_app.options().keep_smooth is True and local_app.options(keep_smooth=False).keep_smooth is False


def test_api_by_position_old_and_new(server, photos, tmp_path):
    """Through the server: the seven options by position give the CLI's image with the default texture; an eighth
    positional value is the texture (0: the regression's image)."""
    from gradio_client import Client, handle_file
    from srddpm.cli import main
    client = Client(server, verbose=False)
    old = client.predict(handle_file(str(photos / 'c.png')), 'srddpm', 1, 1, 3, 3, 0.0, api_name='/upscale')
    new = client.predict(handle_file(str(photos / 'c.png')), 'srddpm', 1, 1, 3, 3, 0.0, 0, api_name='/upscale')
    for out, opts in ((old, []), (new, ['--method', 'regression'])):
        assert main(['upscale', str(photos / 'c.png'), '-o', str(tmp_path / 'cli.png'), '--steps', '1', '--seed', '3',
                     '-q', *opts]) == 0
        assert Path(out[0]).read_bytes() == (tmp_path / 'cli.png').read_bytes(), opts
