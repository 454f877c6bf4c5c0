"""ImageNet weights files made here, in the layout of Keras's published ones, for the networks' tests.

Tests cannot download Keras's files, so they build each network with random weights (seeded) and
write its weights as Keras's published files are written (the HDF5 layout ``keras.applications``
loads, ``layer_names`` and one group per layer). ``trust(path, monkeypatch)`` lists the file's MD5 in
``$CNNLAB_WEIGHTS_CHECKSUMS``, the way a teacher vouches for weights of their own; the checks, the
cache and the loading are then the product's own code.

    path = weights_file(NETWORKS["mobilenet_v2"], tmp_path)
    trust(path, NETWORKS["mobilenet_v2"], tmp_path, monkeypatch)
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from core.models.imagenet import Network, build_network
from core.models.imagenet_weights import CHECKSUMS_ENV, write_weights_file

_MADE: dict[tuple[str, int], Path] = {}  # one file per network and seed per process, copied where a test wants it
_STORE: Path | None = None


def weights_file(net: Network, folder: Path, seed: int = 0, name: str | None = None) -> Path:
    """``net``'s weights, random but fixed by ``seed``, written as ``folder/<Keras's file name>`` (or ``name``)."""
    global _STORE
    import tempfile

    if (net.key, seed) not in _MADE:
        import keras

        if _STORE is None:
            import atexit

            _STORE = Path(tempfile.mkdtemp(prefix="cnnlab-imagenet-weights-"))
            atexit.register(shutil.rmtree, _STORE, True)  # VGG16's file alone is 528 MB
        keras.utils.set_random_seed(seed)
        _MADE[(net.key, seed)] = write_weights_file(build_network(net, None), _STORE / f"{seed}-{net.file_name}")
    target = Path(folder) / (name or net.file_name)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_MADE[(net.key, seed)], target)
    return target


def md5(path: Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def trust(path: Path, net: Network, folder: Path, monkeypatch) -> Path:
    """Add ``path``'s MD5 for ``net``'s file name to a checksums file that ``$CNNLAB_WEIGHTS_CHECKSUMS`` names."""
    listing = Path(folder) / "trusted-weights.md5"
    with open(listing, "a", encoding="utf-8") as f:
        f.write(f"{md5(path)}  {net.file_name}\n")
    monkeypatch.setenv(CHECKSUMS_ENV, str(listing))
    return listing
