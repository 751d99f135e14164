import os
# The tests run at the `ci` profile unless told otherwise, and share the 2 cores between
# pytest-xdist workers instead of oversubscribing them.
os.environ.setdefault('SRDDPM_PROFILE', 'ci')
os.environ.setdefault('SRDDPM_PROGRESS', '0')
if os.environ.get('PYTEST_XDIST_WORKER'):
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    try:
        import torch; torch.set_num_threads(1)
    except ImportError: pass
