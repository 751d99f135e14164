import gzip, struct
from pathlib import Path
import numpy as np
import pytest
import torch
from PIL import Image
from srddpm.data import *


def _save(path, arr):
    Image.fromarray(arr).save(path)
    return path


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    d = tmp_path / 'DIV2K_train_HR'; d.mkdir()
    _save(d / 'a.png', rng.integers(0, 256, (50, 70, 3), dtype=np.uint8))
    _save(d / 'b.png', rng.integers(0, 256, (66, 41), dtype=np.uint8))                    # grey
    _save(d / 'c.png', rng.integers(0, 256, (48, 48, 4), dtype=np.uint8))                  # RGBA
    _save(d / 'd.png', (rng.integers(0, 256, (45, 45)) * 257).astype(np.uint16))          # 16-bit
    (d / 'README.txt').write_text('not an image, and not an image suffix: ignored')
    return tmp_path


def test_div2k_pairs_and_conversions(folder):
    ds = div2k(folder, 'train', scale=4, patch_size=32, seed=0)
    assert len(ds) == 4
    for i in range(len(ds)):
        lr, hr = ds[i]
        assert hr.shape == (3, 32, 32) and lr.shape == (3, 8, 8)
        assert hr.min() >= -1 and hr.max() <= 1
        ref = bicubic_resize((hr + 1) / 2, scale=1 / 4).clamp(0, 1) * 2 - 1
        torch.testing.assert_close(lr, ref)


def test_whole_images_are_modcropped(folder):
    ds = HRImageFolder(folder / 'DIV2K_train_HR', scale=4, patch_size=None)
    for i in range(len(ds)):
        lr, hr = ds[i]
        h, w = ds.sizes[i]
        assert hr.shape[-2:] == (h - h % 4, w - w % 4) and lr.shape[-2:] == (h // 4, w // 4)


def test_same_seed_same_patches(folder):
    a = HRImageFolder(folder / 'DIV2K_train_HR', scale=2, patch_size=16, seed=3)
    b = HRImageFolder(folder / 'DIV2K_train_HR', scale=2, patch_size=16, seed=3)
    assert all(torch.equal(a[i][1], b[i][1]) for i in range(4))


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match='DIV2K_valid_HR'):
        div2k(tmp_path, 'valid')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='no images'):
        HRImageFolder(tmp_path / 'empty')
    with pytest.raises(ValueError, match="'train' or 'valid'"):
        div2k(tmp_path, 'test')


def test_unreadable_image_is_named(tmp_path):
    d = tmp_path / 'imgs'; d.mkdir()
    _save(d / 'ok.png', np.zeros((40, 40, 3), np.uint8))
    (d / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\n garbage')
    with pytest.raises(ImageReadError, match='broken.png'):
        HRImageFolder(d, scale=2, patch_size=16)
    with pytest.raises(ImageReadError, match='broken.png'):
        read_image(d / 'broken.png')
    with pytest.raises(ImageReadError, match='no such file'):
        read_image(d / 'absent.png')


def test_image_smaller_than_crop_is_named(tmp_path):
    d = tmp_path / 'imgs'; d.mkdir()
    _save(d / 'tiny.png', np.zeros((20, 30, 3), np.uint8))
    with pytest.raises(ValueError, match='tiny.png.*smaller'):
        HRImageFolder(d, scale=4, patch_size=32)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='multiple of the scale'):
        HRImageFolder(tmp_path, scale=4, patch_size=30)


def test_read_image_modes(tmp_path):
    rgb16 = (np.arange(2 * 3 * 3).reshape(2, 3, 3) * 3000).astype(np.uint16)
    import tifffile
    tifffile.imwrite(tmp_path / 'rgb16.tif', rgb16, photometric='rgb')
    out = read_image(tmp_path / 'rgb16.tif')
    assert out.dtype == np.uint8 and np.array_equal(out, np.round(rgb16 / 257).astype(np.uint8))
    la = np.dstack([np.full((3, 3), 100, np.uint8), np.zeros((3, 3), np.uint8)])
    _save(tmp_path / 'la.png', la)   # grey + fully transparent alpha -> white
    assert (read_image(tmp_path / 'la.png') == 255).all()


def _write_idx(path, arr, magic):
    with gzip.open(path, 'wb') if path.suffix == '.gz' else open(path, 'wb') as f:
        f.write(struct.pack('>HBB', 0, magic, arr.ndim))
        f.write(struct.pack('>' + 'I' * arr.ndim, *arr.shape))
        f.write(arr.astype(np.uint8).tobytes())


def test_mnist_loader_reads_idx_files(tmp_path):
    raw = tmp_path / 'MNIST' / 'raw'; raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    imgs, labels = rng.integers(0, 256, (6, 28, 28)), np.arange(6) % 10
    for split in ('train', 't10k'):
        _write_idx(raw / f'{split}-images-idx3-ubyte', imgs, 0x08)
        _write_idx(raw / f'{split}-labels-idx1-ubyte', labels, 0x08)
    ds = load_mnist(tmp_path, value_range=(0, 1), fallback=False)
    x, y = ds.tensors
    assert x.shape == (6, 1, 28, 28) and torch.equal(y, torch.tensor(labels))
    torch.testing.assert_close(x[:, 0] * 255, torch.tensor(imgs, dtype=torch.float32))
    assert load_mnist(tmp_path, size=16).tensors[0].shape == (6, 1, 16, 16)


def test_mnist_fallback_and_error(tmp_path, capsys):
    ds = load_mnist(tmp_path / 'nothing')
    assert 'digits' in capsys.readouterr().out and ds.tensors[0].shape[1:] == (1, 16, 16)
    with pytest.raises(FileNotFoundError, match='MNIST'):
        load_mnist(tmp_path / 'nothing', fallback=False)


def test_toy_and_digits():
    with pytest.raises(ValueError, match='8gaussians'):
        toy_2d('spiral', 10)
    x = toy_2d('8gaussians', 4000, noise=0.0)
    d = torch.cdist(x, eight_gaussian_means()).min(1).values
    assert d.max() < 1e-5
    tr, te = digits_split(size=32)
    assert tr.tensors[0].shape[1:] == (1, 32, 32) and len(te) == 359
    with pytest.raises(ValueError):
        load_photos('test')
