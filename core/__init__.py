"""CNN Lab core: datasets, models, training, introspection and image I/O.

This package is plain Python. It never imports streamlit, so it can be used
from a notebook, a command line or a test. TensorFlow is imported lazily by
the modules that need it, so ``import core`` itself is cheap.
"""

__version__ = "0.1.0"

import os as _os

# TensorFlow's C++ start-up chatter (CPU feature notes, oneDNN hints) hides
# what matters in a terminal; warnings and errors still show.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# oneDNN's CPU kernels: this TensorFlow build leaves them off unless asked, and on a
# 2-core x86 CPU they train the small CNNs here 1.6-1.9x faster (bench/time_to_accuracy.py).
# Set TF_ENABLE_ONEDNN_OPTS=0 to turn them off. Only effective before TensorFlow is imported.
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def cpu_count() -> int:
    """CPU cores this process may use."""
    try:
        return len(_os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return _os.cpu_count() or 1


# Threads: the small convolutions of one batch barely speed up with a second
# intra-op thread, so core.training splits each batch into two halves run side by
# side (two inter-op threads, each half its share of the cores): about 1.5x the
# images per second of one thread pool on a 2-core CPU. Set these to override.
if cpu_count() >= 2:
    _os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(max(1, cpu_count() // 2)))
    _os.environ.setdefault("TF_NUM_INTEROP_THREADS", "2")
