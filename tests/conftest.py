import atexit, os, shutil, tempfile
import pytest
# The tests run at the `ci` profile unless told otherwise, and share the 2 cores between
# pytest-xdist workers instead of oversubscribing them.
os.environ.setdefault('SRDDPM_PROFILE', 'ci')
os.environ.setdefault('SRDDPM_PROGRESS', '0')
# Decoded training images go to a scratch cache, never to the user's ~/.cache.
if not os.environ.get('SRDDPM_CACHE'):
    os.environ['SRDDPM_CACHE'] = _cache = tempfile.mkdtemp(prefix='srddpm-test-cache-')
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)
if os.environ.get('PYTEST_XDIST_WORKER'):
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    try:
        import torch; torch.set_num_threads(1)
    except ImportError: pass


@pytest.fixture(scope='session')
def device():
    "The device the tests compute on: `SRDDPM_DEVICE` (e.g. cuda on a GPU machine), else the CPU."
    import torch
    return torch.device(os.environ.get('SRDDPM_DEVICE') or 'cpu')
