"""Uploads made to exhaust a shared server, refused in a fresh interpreter within a second and no memory to speak of.

Measured before the limits on this app: a 2.4 KB file whose config says ``Dense(units=100000000)``
spent 31 s and 4 GB in ``keras.models.load_model``; a 311 KB file of deflated zero weights took 2.66 GB
and wrote 318 MB; a 21 KB model for 20000x20000 images was accepted. Each file here is made for real
(``tests/hostile_models.py``) and uploaded through ``ModelRegistry.import_upload`` in a child process
that has imported TensorFlow and Keras, so its peak resident memory before the upload is the app's idle
figure: the refusal must leave that peak under 1.5 times it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

from hostile_models import giant_dense, huge_input, zero_weights

CHILD = r"""
import json, resource, sys, time
from pathlib import Path

import keras, tensorflow  # the app's idle state: both loaded, as on any page that shows a model
from core.storage.files import ModelFileError
from core.storage.registry import ModelRegistry

path, root = Path(sys.argv[1]), Path(sys.argv[2])
data = path.read_bytes()
registry = ModelRegistry(root)
idle = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB on Linux: the peak so far
start = time.perf_counter()
try:
    registry.import_upload(data, path.name)
    message = None
except ModelFileError as exc:
    message = str(exc)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"idle_kb": idle, "peak_kb": peak, "seconds": seconds, "message": message,
                  "written": sorted(p.name for p in root.iterdir())}))
"""

FILES = {
    # (how to make it, its size on disk at most, words the refusal must hold)
    "giant_dense": (giant_dense, 2500, "'dense' has 100,000,000 units; the limit is 4,096"),
    "zero_weights": (zero_weights, 340_000, "unpacks to 318 MB or more, but the 260 weights"),
    "huge_input": (huge_input, 25_000, "It takes images of 20000×20000 pixels; the limit is 256"),
}


@pytest.mark.parametrize("name", list(FILES))
def test_a_hostile_upload_is_refused_at_once_in_idle_memory(name, tmp_path, repo_root, make_subprocess_env):
    make, most_bytes, words = FILES[name]
    path = make(tmp_path)
    assert path.stat().st_size <= most_bytes
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
    root = tmp_path / "models"
    root.mkdir()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path), str(root)], cwd=repo_root,
                          env=make_subprocess_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"{name}: {path.stat().st_size:,} bytes, refused in {result['seconds'] * 1000:.0f} ms, "
          f"peak {result['peak_kb'] / 1024:.0f} MB against {result['idle_kb'] / 1024:.0f} MB idle")
    assert result["message"] is not None and words in result["message"], result["message"]
    assert result["peak_kb"] <= 1.5 * result["idle_kb"]
    assert result["seconds"] < 1.0
    assert result["written"] == []  # not even a temporary file
