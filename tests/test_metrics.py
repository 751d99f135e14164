"Edge cases and input handling of srddpm.metrics that the chapter's story does not show."
import numpy as np
import pytest
import torch

from srddpm import metrics as M


# ---------------------------------------------------------------- distribution metrics
def test_fid_closed_form_and_symmetry():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    s1, s2 = rng.uniform(0.5, 2, 5), rng.uniform(0.5, 2, 5)
    closed = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    assert M.frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(closed, rel=1e-10)
    # 1-D Gaussians: (m1 - m2)^2 + (sd1 - sd2)^2
    assert M.frechet_distance(1.0, 4.0, -1.0, 1.0) == pytest.approx(4 + 1, rel=1e-12)
    x, y = rng.normal(size=(200, 5)), rng.normal(1, 2, size=(300, 5))
    assert M.fid(x, y) == pytest.approx(M.fid(y, x), rel=1e-8)
    assert abs(M.fid(x, x)) < 1e-8
    assert M.fid(torch.from_numpy(x), y) == pytest.approx(M.fid(x, y))


def test_fid_singular_covariance_is_finite():
    rng = np.random.default_rng(1)
    x = np.zeros((100, 4)); x[:, :2] = rng.normal(size=(100, 2))  # two dead features
    y = np.zeros((100, 4)); y[:, :2] = rng.normal(size=(100, 2))
    v = M.fid(x, y)
    assert np.isfinite(v) and v == pytest.approx(M.fid(x[:, :2], y[:, :2]), abs=1e-4)


def test_fid_kid_bad_inputs():
    x = np.zeros((10, 3))
    with pytest.raises(ValueError, match='dimensions differ'): M.fid(x, np.zeros((10, 4)))
    with pytest.raises(ValueError, match='2-D'): M.fid(np.zeros(10), x)
    with pytest.raises(ValueError, match='at least 2'): M.fid(np.zeros((1, 3)), x)
    with pytest.raises(ValueError, match='NaN'): M.fid(np.full((5, 3), np.nan), x)
    with pytest.raises(ValueError, match='shapes do not match'): M.frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match='disjoint subsets'): M.kid(np.zeros((15, 3)), np.zeros((15, 3)), n_subsets=10)
    with pytest.raises(ValueError, match='at least 2'): M.kid(x, x, n_subsets=1)


def test_mmd2_unbiased_matches_brute_force():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(5, 3))
    k = lambda a, b: (a @ b / 3 + 1) ** 3
    xx = sum(k(x[i], x[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
    yy = sum(k(y[i], y[j]) for i in range(5) for j in range(5) if i != j) / (5 * 4)
    xy = sum(k(x[i], y[j]) for i in range(7) for j in range(5)) / 35
    assert M.mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-12)


def test_kid_result_and_determinism():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(200, 4)), rng.normal(1.5, 1, size=(250, 4))
    r = M.kid(x, y, n_subsets=5, seed=1)
    assert r.subset_size == 40 and r.n_subsets == 5 and r.se > 0
    assert r == M.kid(x, y, n_subsets=5, seed=1)
    value, se, *_ = r  # unpacks like a tuple
    assert value > 3 * se  # clearly different distributions
    assert '±' in str(r)


# ---------------------------------------------------------------- precision and recall
def _pr_bruteforce(real, gen, k):
    from scipy.spatial.distance import cdist
    rr, rg = np.sort(cdist(real, real), 1)[:, k], np.sort(cdist(gen, gen), 1)[:, k]
    d = cdist(gen, real)
    return (d <= rr).any(1).mean(), (d.T <= rg).any(1).mean()


@pytest.mark.parametrize('k,batch_size', [(1, 1), (3, 5), (3, 1024), (7, 16)])
def test_precision_recall_matches_brute_force(k, batch_size):
    rng = np.random.default_rng(k)
    real, gen = rng.normal(size=(70, 4)), rng.normal(0.5, 1.5, size=(45, 4))
    r = M.precision_recall(real, gen, k=k, batch_size=batch_size)
    assert (r.precision, r.recall) == _pr_bruteforce(real, gen, k)
    assert (r.k, r.n_real, r.n_generated) == (k, 70, 45)
    assert 0 <= r.precision <= 1 and 0 <= r.recall <= 1
    radii = M.knn_radii(real, k, batch_size=batch_size)
    from scipy.spatial.distance import cdist
    assert np.allclose(radii, np.sort(cdist(real, real), 1)[:, k], rtol=1e-12)


def test_precision_recall_limits():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 8))
    assert M.precision_recall(x, x)[:2] == (1.0, 1.0)
    assert M.precision_recall(x, x + 100)[:2] == (0.0, 0.0)
    same = M.precision_recall(x, rng.normal(size=(200, 8)))  # one distribution: near 1
    assert same.precision > 0.75 and same.recall > 0.75
    modes = 20 * np.eye(8)[rng.integers(0, 4, 400)] + rng.normal(size=(400, 8))  # 4 clusters
    kept = modes[modes[:, :2].max(1) > 10]                    # mode dropping: 2 clusters of 4
    half = M.precision_recall(modes, kept)
    assert half.precision == 1.0 and 0.4 < half.recall < 0.6
    wide = M.precision_recall(x, 4 * rng.normal(size=(200, 8)))  # spread out
    assert wide.recall > 0.9 and wide.precision < 0.3
    assert M.precision_recall(torch.from_numpy(x), x)[:2] == (1.0, 1.0)
    assert 'precision' in str(same)


def test_precision_recall_bad_inputs():
    x = np.zeros((10, 3))
    with pytest.raises(ValueError, match='dimensions differ'): M.precision_recall(x, np.zeros((10, 4)))
    with pytest.raises(ValueError, match='k must be'): M.precision_recall(x, x, k=10)
    with pytest.raises(ValueError, match='k must be'): M.knn_radii(x, k=0)
    with pytest.raises(ValueError, match='NaN'): M.precision_recall(np.full((5, 3), np.nan), x)


# ---------------------------------------------------------------- the digits feature extractor
@pytest.fixture(scope='module')
def trained_cache(tmp_path_factory):
    "One deterministic training of the digits classifier, cached in a temporary folder."
    folder = tmp_path_factory.mktemp('srddpm_cache')
    return folder, M.digits_feature_extractor(cache=folder, verbose=False)


def test_feature_extractor_cache_and_corrupt_file(trained_cache, tmp_path, capsys):
    import shutil
    src, m1 = trained_cache
    for f in src.iterdir(): shutil.copy(f, tmp_path / f.name)
    files = list(tmp_path.glob('digits_classifier_v*_seed0.safetensors'))
    assert len(files) == 1 and not list(tmp_path.glob('*.tmp'))
    assert m1.test_accuracy > 0.9
    M._EXTRACTORS.clear()
    m2 = M.digits_feature_extractor(cache=tmp_path, verbose=False)  # loaded from the file
    assert m2 is not m1 and m2.test_accuracy == m1.test_accuracy
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values()): assert torch.equal(a, b)
    files[0].write_bytes(b'not a safetensors file')
    M._EXTRACTORS.clear()
    m3 = M.digits_feature_extractor(cache=tmp_path, verbose=False)
    assert 'retraining' in capsys.readouterr().out
    for a, b in zip(m1.state_dict().values(), m3.state_dict().values()): assert torch.equal(a, b)  # deterministic
    assert M._load_classifier(files[0]) is not None  # the corrupt file was replaced by a good one


def test_mismatched_cache_file_is_refused(tmp_path):
    "A readable safetensors file that does not fit the network (other keys, other config) is not trusted."
    import json
    from safetensors.torch import save_file
    p = tmp_path / 'x.safetensors'
    save_file({'w': torch.zeros(3)}, str(p), metadata={'config': json.dumps(M.CLASSIFIER_CONFIG), 'test_accuracy': '1.0'})
    with pytest.raises(RuntimeError): M._load_classifier(p)
    state = {k: v.contiguous() for k, v in M.DigitsClassifier().state_dict().items()}
    save_file(state, str(p), metadata={'config': json.dumps({**M.CLASSIFIER_CONFIG, 'epochs': 1}), 'test_accuracy': '1.0'})
    with pytest.raises(ValueError, match='another configuration'): M._load_classifier(p)
    save_file(state, str(p), metadata={'config': json.dumps(M.CLASSIFIER_CONFIG), 'test_accuracy': '1.0'})
    assert M._load_classifier(p).test_accuracy == 1.0


def test_digit_features_inputs(trained_cache):
    ext = trained_cache[1]
    x = torch.rand(6, 1, 16, 16) * 2 - 1
    f = M.digit_features(x, ext)
    assert f.shape == (6, 64) and f.dtype == np.float64
    np.testing.assert_allclose(M.digit_features(x[:, 0].numpy(), ext), f, atol=1e-6)  # N×16×16 NumPy
    np.testing.assert_allclose(M.digit_features((x + 1) / 2, ext, value_range=(0, 1)), f, atol=1e-5)
    with pytest.raises(ValueError, match='must lie in'): M.digit_features(x * 1.5, ext)
    with pytest.raises(ValueError, match='shape'): M.digit_features(torch.zeros(2, 3, 16, 16), ext)
    with pytest.raises(ValueError, match='NaN'): M.digit_features(torch.full((2, 1, 16, 16), float('nan')), ext)
    with pytest.raises(ValueError, match='no images'): M.digit_features(torch.zeros(0, 1, 16, 16), ext)


# ---------------------------------------------------------------- SR metrics: inputs
def _img(h=32, w=40, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)


def test_as_uint8_images_layouts():
    a = _img()
    assert M.as_uint8_images(a).shape == (1, 32, 40, 3)
    assert M.as_uint8_images(a[..., 0]).shape == (1, 32, 40, 1)
    assert M.as_uint8_images(np.stack([a, a])).shape == (2, 32, 40, 3)
    t = torch.from_numpy(a).permute(2, 0, 1)
    assert np.array_equal(M.as_uint8_images(t)[0], a)  # uint8 tensor CHW
    assert np.array_equal(M.as_uint8_images(t.float() / 255)[0], a)  # float CHW in [0, 1]
    assert np.array_equal(M.as_uint8_images((t.float() / 255)[None])[0], a)  # NCHW
    from PIL import Image
    assert np.array_equal(M.as_uint8_images(Image.fromarray(a))[0], a)
    # rounding: 0.5/255 rounds half to even like torch.round; 0.6/255 -> 1
    assert M.as_uint8_images(torch.full((3, 2, 2), 0.6 / 255)).max() == 1


@pytest.mark.parametrize('bad, match', [
    (np.zeros((4, 4, 3), np.float32), 'must be uint8'),
    (np.zeros((4, 4, 2), np.uint8), 'C = 1 or 3'),
    (np.zeros((4,), np.uint8), 'expected'),
    (torch.zeros(2, 4, 4), 'C = 1 or 3'),
    (torch.full((3, 4, 4), 1.5), r'lie in \[0, 1\]'),
    (torch.full((3, 4, 4), -0.2), r'lie in \[0, 1\]'),
    (torch.full((3, 4, 4), float('nan')), 'NaN'),
    (torch.zeros(3, 4, 4, dtype=torch.int32), 'dtype'),
    (np.zeros((0, 4, 3), np.uint8), 'empty'),
])
def test_as_uint8_images_rejects(bad, match):
    with pytest.raises(ValueError, match=match): M.as_uint8_images(bad)


def test_shape_mismatch_and_crop_errors():
    a = _img()
    with pytest.raises(ValueError, match='differ in shape'): M.psnr(a, a[:-1])
    with pytest.raises(ValueError, match='differ in shape'): M.ssim(a, a[..., :1])
    with pytest.raises(ValueError, match='leaves nothing'): M.psnr(a, a, crop_border=16)
    with pytest.raises(ValueError, match='>= 0'): M.psnr(a, a, crop_border=-1)
    with pytest.raises(ValueError, match='at least 11'): M.ssim(a, a, crop_border=11)
    with pytest.raises(ValueError, match='reduction'): M.psnr(a, a, reduction='sum')


# ---------------------------------------------------------------- SR metrics: values
def test_psnr_known_values_and_batches():
    a = _img() // 2
    assert M.psnr(a, a) == np.inf
    assert M.psnr(a + 5, a) == pytest.approx(20 * np.log10(255 / 5), abs=1e-10)
    assert M.psnr(a + 5, a, y_channel=True) == pytest.approx(20 * np.log10(255 / (5 * 219 / 255)), abs=1e-10)
    b = _img(seed=1)
    batch = M.psnr(np.stack([a, b]), np.stack([a, a]), reduction='none')
    assert batch.shape == (2,) and batch[0] == np.inf and batch[1] == pytest.approx(M.psnr(b, a))
    g = a[..., :1]  # grey: y_channel leaves it as it is
    assert M.psnr(g + 3, g, y_channel=True) == pytest.approx(20 * np.log10(255 / 3))


def test_psnr_ssim_match_skimage():
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity
    a, b = _img(48, 52, seed=2), _img(48, 52, seed=3)
    b = ((a.astype(int) + b) // 2).astype(np.uint8)  # correlated pair
    assert M.psnr(a, b, crop_border=3) == pytest.approx(peak_signal_noise_ratio(b[3:-3, 3:-3], a[3:-3, 3:-3], data_range=255), abs=1e-10)
    ref = structural_similarity(a[3:-3, 3:-3], b[3:-3, 3:-3], channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False, data_range=255)
    assert M.ssim(a, b, crop_border=3) == pytest.approx(ref, abs=1e-6)
    ya, yb = M.rgb_to_y(a), M.rgb_to_y(b)
    ref_y = structural_similarity(ya, yb, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    assert M.ssim(a, b, y_channel=True) == pytest.approx(ref_y, abs=1e-6)
    assert M.ssim(a, b, return_map=True).shape == (1, 38, 42, 3)


def test_rgb_to_y():
    from skimage.color import rgb2ycbcr
    a = _img()
    np.testing.assert_allclose(M.rgb_to_y(a), rgb2ycbcr(a)[..., 0], atol=1e-10)
    assert M.rgb_to_y(a).shape == (32, 40) and M.rgb_to_y(np.stack([a, a])).shape == (2, 32, 40)
    assert M.rgb_to_y(np.full((1, 1, 3), 255, np.uint8))[0, 0] == pytest.approx(235)
    assert M.rgb_to_y(np.zeros((1, 1, 3), np.uint8))[0, 0] == pytest.approx(16)
    with pytest.raises(ValueError, match='RGB'): M.rgb_to_y(a[..., :1])


def test_gaussian_window():
    w = M.gaussian_window(11, 1.5)
    assert w.shape == (11,) and w.sum() == pytest.approx(1) and np.argmax(w) == 5 and np.allclose(w, w[::-1])


def test_lr_consistency():
    from srddpm.core import image_to_tensor, tensor_to_image
    from srddpm.data import make_lr
    hr = _img(32, 40)
    lr = tensor_to_image(make_lr(image_to_tensor(hr), 4, value_range=(0, 1), quantize=True))
    assert lr.shape == (8, 10, 3)
    assert M.lr_consistency_psnr(hr, lr, 4) == np.inf  # the HR image explains its LR image exactly
    assert np.isfinite(M.lr_consistency_psnr(255 - hr, lr, 4))
    with pytest.raises(ValueError, match='upscaled'): M.lr_consistency_psnr(hr, lr, 2)
    with pytest.raises(ValueError, match='upscaled'): M.lr_consistency_psnr(hr[:-4], lr, 4)
    with pytest.raises(ValueError, match='positive integer'): M.lr_consistency_psnr(hr, lr, 0)


@pytest.mark.parametrize('scale', [2, 4, 8])
def test_ground_truth_lr_consistency_is_infinite_on_odd_sizes(scale):
    "One degradation: the LR every chapter makes (make_lr, uint8) is reproduced exactly by the LR-consistency check."
    from srddpm.core import image_to_tensor, tensor_to_image
    from srddpm.data import make_lr
    for h_lr, w_lr in [(37, 53), (19, 7), (1, 3)]:
        hr = _img(h_lr * scale, w_lr * scale, seed=scale)
        lr = tensor_to_image(make_lr(image_to_tensor(hr, (-1, 1)), scale, quantize=True), (-1, 1))
        assert lr.shape == (h_lr, w_lr, 3)
        assert M.lr_consistency_psnr(hr, lr, scale) == np.inf
        off = hr.copy(); off[0, 0, 0] ^= 128                      # one changed pixel is seen
        assert np.isfinite(M.lr_consistency_psnr(off, lr, scale))


def test_evaluate_sr_keys():
    from srddpm.core import image_to_tensor, tensor_to_image
    from srddpm.data import make_lr
    hr = _img(48, 48)
    lr = tensor_to_image(make_lr(image_to_tensor(hr), 4, value_range=(0, 1), quantize=True))
    r = M.evaluate_sr(hr, hr, lr, 4, lpips=False)
    assert set(r) == {'psnr_rgb', 'psnr_y', 'ssim_rgb', 'ssim_y', 'lr_psnr'}
    assert r['psnr_y'] == np.inf and r['ssim_rgb'] == pytest.approx(1)
    with pytest.raises(ValueError, match='one image'): M.evaluate_sr(np.stack([hr, hr]), np.stack([hr, hr]), lr, 4)


# ---------------------------------------------------------------- LPIPS: never a download, never a crash
import importlib.util
HAVE_TORCHVISION = importlib.util.find_spec('torchvision') is not None

def test_lpips_missing_weights_prints_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    monkeypatch.setenv('SRDDPM_CACHE', str(tmp_path / 'cache'))
    a = _img()
    assert M.lpips_distance(a, a) is None
    assert M.lpips_distance(a, a) is None
    out = capsys.readouterr().out
    reason = 'nothing is downloaded' if HAVE_TORCHVISION else "it needs torchvision (pip install 'srddpm[vision]')"
    assert out.count('LPIPS left out') == 1 and reason in out
    assert 'lpips' not in M.evaluate_sr(_img(32, 32), _img(32, 32), _img(8, 8), 4)
    assert not (tmp_path / 'torch').exists()  # nothing was fetched or written


@pytest.fixture(scope='module')
def fake_lpips_dir(tmp_path_factory):
    "Random AlexNet features in a fake torch hub cache and random positive LPIPS linear weights in a fake srddpm cache."
    torchvision = pytest.importorskip('torchvision', reason="LPIPS's backbone is torchvision's (the `vision` extra)")
    root = tmp_path_factory.mktemp('lpips')
    torch.manual_seed(0)
    features = torchvision.models.alexnet(weights=None).features
    ck = root / 'torch' / 'hub' / 'checkpoints'; ck.mkdir(parents=True)
    name = torchvision.models.AlexNet_Weights.IMAGENET1K_V1.url.rsplit('/', 1)[-1]
    torch.save({f'features.{k}': v for k, v in features.state_dict().items()}, ck / name)
    lin = {f'lin{i}.model.1.weight': torch.rand(1, c, 1, 1) for i, c in enumerate((64, 192, 384, 256, 256))}
    (root / 'cache' / 'lpips').mkdir(parents=True)
    torch.save(lin, root / 'cache' / 'lpips' / 'alex.pth')
    return root, features, lin


@pytest.fixture
def fake_lpips(fake_lpips_dir, monkeypatch):
    root, features, lin = fake_lpips_dir
    monkeypatch.setenv('TORCH_HOME', str(root / 'torch'))
    monkeypatch.setenv('SRDDPM_CACHE', str(root / 'cache'))
    return features, lin


def test_lpips_with_local_weights(fake_lpips):
    a, b = _img(64, 64, seed=4), _img(64, 64, seed=5)
    assert M.lpips_distance(a, a) == pytest.approx(0, abs=1e-7)
    d = M.lpips_distance(a, b)
    assert d > 0 and d == pytest.approx(M.lpips_distance(b, a), rel=1e-5)
    r = M.evaluate_sr(a, b, _img(16, 16), 4)
    assert r['lpips'] == pytest.approx(d)


def test_lpips_matches_reference_package(fake_lpips):
    "Our LPIPS forward equals the `lpips` package's on the same (random) backbone and linear weights."
    lpips = pytest.importorskip('lpips')
    feats, lin = fake_lpips
    ref = lpips.LPIPS(net='alex', pretrained=False, pnet_rand=True, verbose=False)
    for k, (a, b) in enumerate(zip((0, 2, 5, 8, 10), (2, 5, 8, 10, 12))):
        getattr(ref.net, f'slice{k + 1}').load_state_dict({f'{i}.{p}': v for i in range(a, b) for p, v in
                                                            feats[i].state_dict().items()}, strict=True)
    ref.load_state_dict({**ref.state_dict(), **lin}, strict=True)
    x, y = torch.rand(2, 3, 48, 48), torch.rand(2, 3, 48, 48)
    x, y = (x * 255).round() / 255, (y * 255).round() / 255
    with torch.no_grad(): expected = ref(x, y, normalize=True).flatten().numpy()
    ours = M.lpips_distance(x, y, reduction='none')
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-6)
