import numpy as np
import pytest
import torch
from PIL import Image
from srddpm.sr_data import *
from srddpm.data import imresize, imresize_matrix, make_lr, bicubic_up


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
    ds = SRPatchDataset(paths, 3, 12, 30, cache_size=2, seed=4)
    mem = SRPatchDataset([_img(30 + k, 33, seed=k) for k in range(3)], 3, 12, 30, seed=4)
    for i in range(30):
        assert torch.equal(ds[i][1], mem[i][1])
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
