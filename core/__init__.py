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
