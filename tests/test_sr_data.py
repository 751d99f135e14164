import os, pickle
from pathlib import Path
import numpy as np
import pytest
import torch
from PIL import Image
from srddpm.sr_data import *
from srddpm.core import image_to_tensor
from srddpm.data import imresize, imresize_matrix, make_lr, bicubic_up, read_image


def _img(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_imresize_shapes_odd_sizes_and_batches():
    x = torch.rand(2, 3, 37, 53)
    assert imresize(x, scale=0.5).shape == (2, 3, 19, 27)          # MATLAB: ceil(37/2), ceil(53/2)
    assert imresize(x, size=(10, 11)).shape == (2, 3, 10, 11)
    assert imresize(x[0], scale=3).shape == (3, 111, 159)
    torch.testing.assert_close(imresize(x, scale=1 / 3)[1], imresize(x[1], scale=1 / 3))


def test_imresize_bad_input():
    with pytest.raises(ValueError): imresize(torch.rand(4, 4), scale=0.5)
    with pytest.raises(TypeError): imresize(torch.zeros(3, 4, 4, dtype=torch.uint8), scale=0.5)
    with pytest.raises(ValueError): imresize(torch.rand(3, 4, 4))
    with pytest.raises(ValueError): imresize(torch.rand(3, 4, 4), scale=-1)


def test_imresize_rows_sum_to_one_and_tiny_images():
    for n, m, s in [(1, 4, 4.0), (3, 1, 1 / 3), (5, 2, 0.4), (2, 16, 8.0)]:
        M = imresize_matrix(n, m, s)
        assert M.shape == (m, n) and np.allclose(M.sum(1), 1)
    torch.testing.assert_close(imresize(torch.full((3, 1, 1), 0.7), scale=4), torch.full((3, 4, 4), 0.7))


def test_make_lr_values_and_errors():
    hr = torch.rand(3, 32, 24) * 2 - 1
    lr = make_lr(hr, 4)
    assert lr.shape == (3, 8, 6) and lr.min() >= -1 and lr.max() <= 1
    q = make_lr(hr, 4, quantize=True)
    levels = (q + 1) * 127.5
    assert torch.allclose(levels, levels.round(), atol=1e-4) and (q - lr).abs().max() <= 1 / 255 + 1e-6
    q01 = make_lr((hr + 1) / 2, 4, value_range=(0, 1), quantize=True)
    torch.testing.assert_close(q01 * 2 - 1, q, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match='modcrop'): make_lr(torch.rand(3, 30, 24), 4)
    with pytest.raises(ValueError): make_lr(hr, 0)
    assert bicubic_up(lr, 4).shape == hr.shape


def test_make_lr_is_differentiable():
    hr = torch.rand(1, 3, 16, 16, requires_grad=True)
    make_lr(hr, 2, clamp=False).sum().backward()
    # each LR pixel's weights sum to one, so d(sum LR)/d(HR) sums to the number of LR pixels
    assert abs(hr.grad.sum().item() - 3 * 8 * 8) < 1e-3


def test_patch_dataset_bad_input(tmp_path):
    img = _img(40, 50)
    with pytest.raises(ValueError, match='multiple'): SRPatchDataset([img], 4, 30, 10)
    with pytest.raises(ValueError, match='smaller'): SRPatchDataset({'small': img}, 4, 48, 10)
    with pytest.raises(ValueError, match='uint8'): SRPatchDataset([img.astype(np.float32)], 4, 16, 10)
    with pytest.raises(ValueError): SRPatchDataset([], 4, 16, 10)
    with pytest.raises(ValueError): SRPatchDataset([img], 4, 16, 0)
    with pytest.raises(ValueError, match='weighting'): SRPatchDataset([img], 4, 16, 5, weighting='size')
    (tmp_path / 'x.png').write_text('not an image')
    with pytest.raises(ValueError, match='x.png'): SRPatchDataset([tmp_path / 'x.png'], 4, 16, 5)
    with pytest.raises(ValueError, match='no such file'): SRPatchDataset([tmp_path / 'missing.png'], 4, 16, 5)
    ds = SRPatchDataset([img], 4, 16, 5)
    with pytest.raises(IndexError): ds[5]


def test_patch_dataset_pairs_without_augmentation():
    img = _img(40, 52)
    ds = SRPatchDataset([img], 2, 16, 20, augment=False, value_range=(0, 1), quantize=False)
    for i in range(len(ds)):
        d = ds.draw(i)
        assert not d['hflip'] and not d['vflip'] and d['rot90'] == 0
        lr, hr = ds[i]
        ref = torch.from_numpy(img[d['y']:d['y'] + 16, d['x']:d['x'] + 16].transpose(2, 0, 1).astype(np.float32) / 255)
        torch.testing.assert_close(hr, ref)
        torch.testing.assert_close(lr, make_lr(ref, 2, (0, 1)))


def test_patch_dataset_lazy_files_and_cache(tmp_path):
    paths = []
    for k in range(3):
        p = tmp_path / f'{k}.png'; Image.fromarray(_img(30 + k, 33, seed=k)).save(p); paths.append(p)
    ds = SRPatchDataset(paths, 3, 12, 30, cache_size=2, seed=4, cache_dir=False)
    mem = SRPatchDataset([_img(30 + k, 33, seed=k) for k in range(3)], 3, 12, 30, seed=4)
    cached = SRPatchDataset(paths, 3, 12, 30, seed=4, cache_dir=tmp_path / 'cache')
    for i in range(30):
        assert torch.equal(ds[i][1], mem[i][1]) and torch.equal(cached[i][1], mem[i][1])
    assert len(ds._cache) <= 2


def test_sr_train_valid_div2k(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match='DIV2K_train_HR'): sr_train_valid(4, 16, 4, div2k_root=tmp_path, verbose=False)
    (tmp_path / 'DIV2K_train_HR').mkdir()
    with pytest.raises(FileNotFoundError, match='no images'): sr_train_valid(4, 16, 4, div2k_root=tmp_path, verbose=False)
    Image.fromarray(_img(40, 40)).save(tmp_path / 'DIV2K_train_HR' / '0001.png')
    monkeypatch.setenv('SRDDPM_DIV2K', str(tmp_path))
    ds, valid = sr_train_valid(4, 16, 4, verbose=False)
    assert len(ds.items) == 1 and ds[0][1].shape == (3, 16, 16)
    assert set(valid) == {'chelsea', 'flower'}
    for s in (2, 4, 8):
        for a in valid_images(s).values(): assert a.shape[0] % s == 0 and a.shape[1] % s == 0


# ---- the loader: same patches as before, decoded once, a batch degraded at once ----------------

class ReferencePatchDataset(torch.utils.data.Dataset):
    "SRPatchDataset as it was before the decoded-image cache and the batched make_lr (kept to compare draws)."
    def __init__(self, images, scale, patch_size, length, augment=True, seed=0, value_range=(-1, 1), quantize=True,
                 weighting='uniform', cache_size=16):
        self.scale, self.patch_size, self.length = scale, patch_size, length
        items = list(images.values()) if isinstance(images, dict) else list(images)
        self.items, self.sizes = items, []
        for it in items:
            if isinstance(it, (str, Path)):
                with Image.open(it) as im: w, h = im.size
            else: h, w = np.asarray(it).shape[:2]
            self.sizes.append((h, w))
        if weighting == 'uniform': n_pos = np.ones(len(self.sizes))
        else: n_pos = np.array([(h - patch_size + 1) * (w - patch_size + 1) for h, w in self.sizes], dtype=np.float64)
        self.probs = n_pos / n_pos.sum()
        self.augment, self.seed, self.value_range, self.quantize = augment, seed, value_range, quantize
        self.epoch, self._cache, self.cache_size = 0, {}, cache_size

    def __len__(self): return self.length

    def image(self, k):
        it = self.items[k]
        if not isinstance(it, (str, Path)): return np.asarray(it)
        if k not in self._cache:
            if len(self._cache) >= self.cache_size: self._cache.pop(next(iter(self._cache)))
            self._cache[k] = read_image(it)
        return self._cache[k]

    def draw(self, i):
        rng = np.random.default_rng([self.seed, self.epoch, i])
        k = int(rng.choice(len(self.items), p=self.probs))
        h, w = self.sizes[k]
        y, x = int(rng.integers(0, h - self.patch_size + 1)), int(rng.integers(0, w - self.patch_size + 1))
        flips = rng.random(2) < 0.5 if self.augment else np.zeros(2, bool)
        rot = int(rng.integers(0, 4)) if self.augment else 0
        return dict(image=k, y=y, x=x, hflip=bool(flips[0]), vflip=bool(flips[1]), rot90=rot)

    def __getitem__(self, i):
        d, p = self.draw(i), self.patch_size
        hr = self.image(d['image'])[d['y']:d['y'] + p, d['x']:d['x'] + p]
        if d['hflip']: hr = hr[:, ::-1]
        if d['vflip']: hr = hr[::-1]
        hr = image_to_tensor(np.ascontiguousarray(np.rot90(hr, k=d['rot90'])), self.value_range)
        return make_lr(hr, self.scale, self.value_range, quantize=self.quantize), hr


def _png_folder(tmp_path, n=5, seed=0):
    paths = []
    for k in range(n):
        p = tmp_path / f'{k:04d}.png'; Image.fromarray(_img(70 + 9 * k, 90 - 5 * k, seed=seed + k)).save(p); paths.append(p)
    return paths


@pytest.mark.parametrize('weighting', ['uniform', 'area'])
def test_same_patches_as_the_reference_for_the_same_seed(tmp_path, weighting):
    paths = _png_folder(tmp_path)
    kw = dict(scale=4, patch_size=32, length=200, seed=7, weighting=weighting)
    ref, new = ReferencePatchDataset(paths, **kw), SRPatchDataset(paths, cache_dir=tmp_path / 'cache', **kw)
    for i in range(0, 200, 3):
        assert ref.draw(i) == new.draw(i)
        (a_lr, a_hr), (b_lr, b_hr) = ref[i], new[i]
        assert torch.equal(a_hr, b_hr) and torch.equal(a_lr, b_lr)
    # the DataLoader path: a batch at a time through __getitems__ (one make_lr), with and without workers
    for workers in (0, 2):
        loader = torch.utils.data.DataLoader(new, batch_size=16, num_workers=workers)
        for b, (lr, hr) in enumerate(loader):
            ref_lr, ref_hr = zip(*(ref[i] for i in range(16 * b, min(16 * b + 16, 200))))
            assert torch.equal(hr, torch.stack(ref_hr)) and torch.equal(lr, torch.stack(ref_lr)), (workers, b)
    # other seeds and scales, from arrays
    imgs = {f'im{k}': _img(50 + k, 61, seed=k) for k in range(3)}
    for s, p in [(2, 24), (8, 48)]:
        ref, new = ReferencePatchDataset(imgs, s, p, 64, seed=3), SRPatchDataset(imgs, s, p, 64, seed=3)
        batch = new.__getitems__(list(range(64)))
        for i in range(64):
            assert torch.equal(batch[i][0], ref[i][0]) and torch.equal(batch[i][1], ref[i][1])


def test_each_file_is_decoded_once(tmp_path, monkeypatch):
    import srddpm.sr_data as S
    paths, calls = _png_folder(tmp_path, n=3), []
    real = S.read_image
    monkeypatch.setattr(S, 'read_image', lambda p: calls.append(Path(p).name) or real(p))
    ds = SRPatchDataset(paths, 4, 32, 300, cache_dir=tmp_path / 'cache')
    for i in range(300): ds.hr_patch(i)
    assert sorted(calls) == ['0000.png', '0001.png', '0002.png'], 'one decode per file, not per patch'
    assert len(list((tmp_path / 'cache').glob('*.npy'))) == 3 and not list((tmp_path / 'cache').glob('.*'))
    again = SRPatchDataset(paths, 4, 32, 300, cache_dir=tmp_path / 'cache')
    assert all(torch.equal(again[i][1], ds[i][1]) for i in range(20)) and len(calls) == 3, 'a new dataset reuses the cache'
    # the cached array is the decoded image; the cache does not travel to DataLoader workers
    assert np.array_equal(cached_image(paths[1], tmp_path / 'cache'), real(paths[1]))
    assert pickle.loads(pickle.dumps(ds))._cache == {}
    # a changed file is decoded again; a damaged cache file too
    Image.fromarray(_img(70, 90, seed=99)).save(paths[0]); os.utime(paths[0], ns=(1, 10**18))
    assert np.array_equal(cached_image(paths[0], tmp_path / 'cache'), _img(70, 90, seed=99))
    f = sorted((tmp_path / 'cache').glob('0001-*.npy'))[0]; f.write_bytes(f.read_bytes()[:100])
    assert np.array_equal(cached_image(paths[1], tmp_path / 'cache'), real(paths[1]))
    # without a disk cache: decoded images kept in memory, at most cache_size of them
    calls.clear()
    before = sorted((tmp_path / 'cache').iterdir())
    mem = SRPatchDataset(paths, 4, 32, 60, cache_dir=False, cache_size=1)
    for i in range(60): mem.hr_patch(i)
    assert len(mem._cache) == 1 and len(calls) > 3 and sorted((tmp_path / 'cache').iterdir()) == before


def test_exif_rotated_file_size(tmp_path):
    "A photo stored sideways with an EXIF rotation: its size is the upright one, as read_image returns it."
    a = _img(40, 64)
    exif = Image.Exif(); exif[0x0112] = 6                    # rotate 90° clockwise to view
    Image.fromarray(a).save(tmp_path / 'side.jpg', exif=exif.tobytes(), quality=95)
    up = read_image(tmp_path / 'side.jpg')
    assert up.shape[:2] == (64, 40)
    ds = SRPatchDataset([tmp_path / 'side.jpg'], 4, 36, 50, augment=False, cache_dir=tmp_path / 'cache')
    assert ds.sizes == [(64, 40)]
    for i in range(50):
        d = ds.draw(i)
        assert np.array_equal(ds.hr_patch(i), up[d['y']:d['y'] + 36, d['x']:d['x'] + 36])


def test_div2k_standins(tmp_path):
    files = div2k_standins(tmp_path / 'DIV2K_train_HR', n=10, size=(68, 102))
    arrays = [read_image(f) for f in files]
    assert all(a.shape == (68, 102, 3) for a in arrays) and len({a.tobytes() for a in arrays}) == 10
    assert [f.name for f in div2k_files(tmp_path)] == [f'{k:04d}.png' for k in range(1, 11)]
