import os, random
import numpy as np
import pytest
import torch
from PIL import Image
from srddpm.core import *


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv('SRDDPM_PROFILE', 'full')
    assert get_profile() == 'full' and for_profile(1, 2, 3) == 3 and for_profile(1, 2) == 2
    monkeypatch.delenv('SRDDPM_PROFILE')
    assert get_profile() == 'book'
    monkeypatch.setenv('SRDDPM_PROFILE', 'gpu')
    with pytest.raises(ValueError, match='ci, book, full'):
        get_profile()


def test_device_override(monkeypatch):
    monkeypatch.setenv('SRDDPM_DEVICE', 'cpu')
    assert get_device() == torch.device('cpu')
    assert get_device('meta') == torch.device('meta')


def test_seed_reproducible():
    def draw(seed):
        g = seed_everything(seed)
        return torch.randn(5), torch.randn(3, generator=g), np.random.rand(2), random.random()
    a, b, c = draw(7), draw(7), draw(8)
    assert all(torch.equal(x, y) if isinstance(x, torch.Tensor) else np.array_equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize('value_range', [(0, 1), (-1, 1)])
def test_image_round_trip(value_range):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
    t = image_to_tensor(img, value_range)
    assert t.shape == (3, 7, 9)
    assert np.array_equal(tensor_to_image(t, value_range), img)
    assert np.array_equal(np.asarray(tensor_to_pil(t, value_range)), img)


def test_image_conversions_and_errors():
    grey = np.full((4, 4), 128, np.uint8)
    assert image_to_tensor(grey).shape == (1, 4, 4)
    assert tensor_to_pil(image_to_tensor(grey)).mode == 'L'
    assert torch.allclose(image_to_tensor(np.ones((2, 2), bool)), torch.ones(1, 2, 2))
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        image_to_tensor(np.full((2, 2, 3), 2.0))
    with pytest.raises(ValueError, match='HW or HWC'):
        image_to_tensor(np.zeros((1, 2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match='CHW'):
        tensor_to_image(torch.zeros(4, 4))
    # values outside the range are clipped, not wrapped around
    assert tensor_to_image(torch.full((1, 1, 1), 3.0)).item() == 255


def test_show_images_and_progress(monkeypatch):
    import matplotlib; matplotlib.use('Agg')
    fig = show_images(torch.rand(5, 3, 8, 8), titles=list('abcde'), title='t')
    assert len([a for a in fig.axes if a.images]) == 5
    with pytest.raises(ValueError):
        show_images([])
    monkeypatch.setenv('SRDDPM_PROGRESS', '0')
    assert sum(progress(range(10))) == 45
