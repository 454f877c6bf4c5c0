"""core.data.download across processes and on the full-size files, from a localhost mirror.

One download for two processes, a cache Keras itself reads, and the real Fashion-MNIST and MNIST
files through the downloader.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import Counter

import numpy as np
import pytest

from core.data import load_dataset
from core.data.download import fetch_dataset
from core.data.idx import IDX_FILES
from download_fixtures import closed_port_url, idx_set, mnist_npz, with_hash

# Every test of this module has a Keras cache of its own, offline unless it starts a mirror.
pytestmark = pytest.mark.usefixtures("private_cache")


def test_two_processes_download_once(mirror, private_cache, make_subprocess_env):
    mirror.files, _ = idx_set()
    mirror.delay = 0.05
    env = make_subprocess_env(KERAS_HOME=str(private_cache.parent), CNNLAB_DATASET_MIRROR=mirror.url,
                              NO_PROXY="*", no_proxy="*")
    script = "from core.data.download import fetch_dataset; print(fetch_dataset('fashion_mnist'))"
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-1500:] for _, err in outputs]
    assert [out.strip() for out, _ in outputs] == [str(private_cache / "fashion-mnist")] * 2
    assert mirror.requests == Counter({name: 1 for name in IDX_FILES.values()})


def test_keras_reads_the_cache_this_module_wrote(mirror, private_cache, make_subprocess_env):
    mirror.files, arrays = idx_set()
    fetch_dataset("fashion_mnist")
    proxy = closed_port_url()  # Keras must not download: every request of its own would fail
    env = make_subprocess_env(KERAS_HOME=str(private_cache.parent), HTTPS_PROXY=proxy, HTTP_PROXY=proxy,
                              https_proxy=proxy, http_proxy=proxy, NO_PROXY="", no_proxy="")
    script = textwrap.dedent("""
        import json, keras
        (x, y), (xt, yt) = keras.datasets.fashion_mnist.load_data()
        print("RESULT " + json.dumps([list(x.shape), y.tolist()]))
    """)
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    shape, labels = json.loads(next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))[7:])
    assert shape == [30, 28, 28] and labels == arrays["y_train"].tolist()


def test_real_files_through_the_downloader(mirror, monkeypatch, private_cache, shared_datasets):
    """The real Fashion-MNIST idx files, and an mnist.npz built from the real MNIST ones."""
    fashion = shared_datasets / "fashion_mnist"
    mirror.files = {name: (fashion / name).read_bytes() for name in IDX_FILES.values()}
    ds = load_dataset("fashion_mnist")
    assert (len(ds.x_train), len(ds.x_test)) == (60_000, 10_000)
    assert set(ds.class_counts("train").values()) == {6000}

    from core.data.idx import load_idx_folder

    x_train, y_train, x_test, y_test = load_idx_folder(shared_datasets / "mnist")
    mirror.files["mnist.npz"] = data = mnist_npz({"x_train": x_train, "y_train": y_train,
                                                  "x_test": x_test, "y_test": y_test})
    with_hash(monkeypatch, "mnist", data)
    mnist = load_dataset("mnist")
    assert (len(mnist.x_train), len(mnist.x_test)) == (60_000, 10_000)
    np.testing.assert_array_equal(mnist.y_test, y_test)

