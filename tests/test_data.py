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
        torch.testing.assert_close(lr, make_lr(hr, 4))      # the one degradation of the book


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


def test_read_image_rgb48_and_transparent_grey(tmp_path):
    rgb16 = (np.arange(2 * 3 * 3).reshape(2, 3, 3) * 3000).astype(np.uint16)
    import tifffile
    tifffile.imwrite(tmp_path / 'rgb16.tif', rgb16, photometric='rgb')
    out = read_image(tmp_path / 'rgb16.tif')
    # Pillow keeps the high byte of 16-bit RGB samples: within one level of round(v / 257)
    diff = np.round(rgb16 / 257).astype(int) - out.astype(int)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 3) and np.abs(diff).max() <= 1
    la = np.dstack([np.full((3, 3), 100, np.uint8), np.zeros((3, 3), np.uint8)])
    _save(tmp_path / 'la.png', la)   # grey + fully transparent alpha -> white
    assert (read_image(tmp_path / 'la.png') == 255).all()


def _pillow_files(d):
    "One small file per mode Pillow opens, with the RGB a photo viewer shows for it."
    from PIL import Image
    g = np.array([[0, 64, 128], [192, 255, 30]], np.uint8)
    grey3 = np.repeat(g[..., None], 3, -1)
    rgb = np.dstack([g, 255 - g, np.full_like(g, 77)])
    files = {}
    Image.fromarray(g > 100).save(d / 'mode_1.png')
    files['1'] = (d / 'mode_1.png', np.repeat(np.where(g > 100, 255, 0).astype(np.uint8)[..., None], 3, -1))
    Image.fromarray(g).save(d / 'mode_L.png'); files['L'] = (d / 'mode_L.png', grey3)
    alpha = np.array([[255, 0, 255], [128, 255, 0]], np.uint8)
    Image.fromarray(np.dstack([g, alpha])).save(d / 'mode_LA.png')
    comp = np.round(g * (alpha / 255) + 255 * (1 - alpha / 255)).astype(np.uint8)
    files['LA'] = (d / 'mode_LA.png', np.repeat(comp[..., None], 3, -1))
    pal = [10, 20, 30, 200, 100, 0, 0, 0, 255] + [0] * (768 - 9)
    idx = np.array([[0, 1, 2], [2, 1, 0]], np.uint8)
    colours = np.array(pal[:9], np.uint8).reshape(3, 3)
    p = Image.fromarray(idx).convert('P'); p.putpalette(pal); p.save(d / 'mode_P.png')
    files['P'] = (d / 'mode_P.png', colours[idx])
    p.save(d / 'mode_P_transparent.png', transparency=1)          # index 1 is transparent -> white
    want = colours[idx].copy(); want[idx == 1] = 255
    files['P+transparency'] = (d / 'mode_P_transparent.png', want)
    Image.fromarray(rgb).save(d / 'mode_RGB.png'); files['RGB'] = (d / 'mode_RGB.png', rgb)
    Image.fromarray(np.dstack([rgb, alpha])).save(d / 'mode_RGBA.png')
    a = alpha[..., None] / 255
    files['RGBA'] = (d / 'mode_RGBA.png', np.round(rgb * a + 255 * (1 - a)).astype(np.uint8))
    cmyk = np.zeros((2, 3, 4), np.uint8); cmyk[0, 0] = (255, 0, 0, 0); cmyk[0, 1] = (0, 255, 0, 0)
    cmyk[0, 2] = (0, 0, 255, 0); cmyk[1, 0] = (0, 0, 0, 255); cmyk[1, 1] = (0, 0, 0, 0); cmyk[1, 2] = (0, 0, 0, 128)
    Image.frombytes('CMYK', (3, 2), cmyk.tobytes()).save(d / 'mode_CMYK.tif')
    files['CMYK'] = (d / 'mode_CMYK.tif', np.array([[[0, 255, 255], [255, 0, 255], [255, 255, 0]],
                                                    [[0, 0, 0], [255, 255, 255], [127, 127, 127]]], np.uint8))
    Image.new('CMYK', (3, 2), (0, 255, 0, 0)).save(d / 'mode_CMYK.jpg', quality=100)   # magenta ink
    files['CMYK (JPEG)'] = (d / 'mode_CMYK.jpg', np.broadcast_to(np.array([255, 0, 255], np.uint8), (2, 3, 3)))
    g16 = (g.astype(np.uint16) * 257)
    Image.frombytes('I;16', (3, 2), g16.astype('<u2').tobytes()).save(d / 'mode_I16.png'); files['I;16'] = (d / 'mode_I16.png', grey3)
    Image.fromarray(g16.astype(np.int32)).save(d / 'mode_I.tif'); files['I'] = (d / 'mode_I.tif', grey3)
    Image.fromarray(g.astype(np.float32) / 255).save(d / 'mode_F.tif'); files['F'] = (d / 'mode_F.tif', grey3)
    return files


def test_read_image_every_pillow_mode(tmp_path):
    from PIL import Image
    for mode, (path, want) in _pillow_files(tmp_path).items():
        got = read_image(path)
        assert got.dtype == np.uint8 and got.shape == want.shape, (mode, got.shape)
        tol = 3 if 'JPEG' in mode else (1 if mode == 'CMYK' else 0)
        assert np.abs(got.astype(int) - want.astype(int)).max() <= tol, (mode, got, want)
    # the files really are in the modes named
    assert Image.open(tmp_path / 'mode_P_transparent.png').mode == 'P'
    assert Image.open(tmp_path / 'mode_CMYK.jpg').mode == 'CMYK'
    modes = {m: Image.open(p).mode for m, (p, _) in _pillow_files(tmp_path).items()}
    assert modes == {'1': '1', 'L': 'L', 'LA': 'LA', 'P': 'P', 'P+transparency': 'P', 'RGB': 'RGB', 'RGBA': 'RGBA',
                     'CMYK': 'CMYK', 'CMYK (JPEG)': 'CMYK', 'I;16': 'I;16', 'I': 'I', 'F': 'F'}, modes


@pytest.mark.parametrize('orientation', range(1, 9))
def test_read_image_applies_exif_orientation(tmp_path, orientation):
    "A photo stored with EXIF orientation k reads upright, as a viewer shows it (all 8 orientations)."
    from PIL import Image, ImageOps
    rng = np.random.default_rng(orientation)
    upright = np.kron(rng.integers(0, 256, (3, 5, 3)), np.ones((8, 8, 1))).astype(np.uint8)   # 24 x 40 blocks
    # store the pixels so that applying the tag gives `upright` back: invert the tag's transform
    inverse = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
               4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90,
               7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_270}[orientation]
    stored = Image.fromarray(upright)
    if inverse is not None: stored = stored.transpose(inverse)
    exif = Image.Exif(); exif[0x0112] = orientation
    stored.save(tmp_path / 'photo.jpg', exif=exif, quality=100, subsampling=0)
    got = read_image(tmp_path / 'photo.jpg')
    assert got.shape == upright.shape
    assert np.abs(got.astype(int) - upright.astype(int)).mean() < 3    # JPEG noise only


def test_read_image_truncated_and_empty_files(tmp_path):
    from PIL import Image
    Image.fromarray(np.zeros((64, 64, 3), np.uint8) + 9).save(tmp_path / 'ok.jpg')
    data = (tmp_path / 'ok.jpg').read_bytes()
    (tmp_path / 'cut.jpg').write_bytes(data[: len(data) // 2])
    (tmp_path / 'empty.png').write_bytes(b'')
    for name in ('cut.jpg', 'empty.png'):
        with pytest.raises(ImageReadError, match=name):
            read_image(tmp_path / name)


def _write_idx(path, arr, magic):
    with gzip.open(path, 'wb') if path.suffix == '.gz' else open(path, 'wb') as f:
        f.write(struct.pack('>HBB', 0, magic, arr.ndim))
        f.write(struct.pack('>' + 'I' * arr.ndim, *arr.shape))
        f.write(arr.astype(np.uint8).tobytes())


HAVE_TORCHVISION = __import__('importlib').util.find_spec('torchvision') is not None
needs_torchvision = pytest.mark.skipif(not HAVE_TORCHVISION, reason="the MNIST files are read by torchvision (the `vision` extra)")


@needs_torchvision
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
    with pytest.raises(FileNotFoundError if HAVE_TORCHVISION else ImportError,
                       match='MNIST' if HAVE_TORCHVISION else r"srddpm\[vision\]"):
        load_mnist(tmp_path / 'nothing', fallback=False)


def test_mnist_without_torchvision(tmp_path, capsys, monkeypatch):
    "Without torchvision (an optional extra) the loader says so: the digits with `fallback`, else an ImportError."
    import builtins
    real_import = builtins.__import__
    def no_torchvision(name, *a, **k):
        if name.split('.')[0] == 'torchvision': raise ImportError(f'No module named {name!r}')
        return real_import(name, *a, **k)
    monkeypatch.setattr(builtins, '__import__', no_torchvision)
    ds = load_mnist(tmp_path)
    assert "pip install 'srddpm[vision]'" in capsys.readouterr().out and ds.tensors[0].shape[1:] == (1, 16, 16)
    with pytest.raises(ImportError, match=r"srddpm\[vision\]"):
        load_mnist(tmp_path, fallback=False)


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
