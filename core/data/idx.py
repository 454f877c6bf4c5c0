"""Reader for the idx files MNIST and Fashion-MNIST are published in."""

from __future__ import annotations

import gzip
import shutil
import zlib
from pathlib import Path

import numpy as np

from core.data.base import DatasetError
from core.data.versioned_folder import publish_folder, read_folder, staging_folder

# The four official file names, the same for MNIST and Fashion-MNIST.
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}

# The biggest official file, MNIST's training images, is 47 MB unpacked.
MAX_IDX_BYTES = 256 * 2**20

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read one idx file (gzip-compressed or plain) into a NumPy array."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"Could not read idx file {path}: {exc}") from exc
    return parse_idx(data, path.name)


def parse_idx(data: bytes, name: str) -> np.ndarray:
    """The array in the bytes of an idx file called ``name`` (gzip-compressed when the name ends in .gz)."""
    if name.endswith(".gz"):
        try:
            unpack = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip framing
            out = unpack.decompress(data, MAX_IDX_BYTES + 1)
            if not unpack.eof and len(out) <= MAX_IDX_BYTES:
                raise EOFError("the file ends before the compressed data does")
        except (zlib.error, EOFError) as exc:
            raise DatasetError(f"Could not read idx file {name}: it is not a complete gzip file ({exc})") from exc
        if len(out) > MAX_IDX_BYTES:
            raise DatasetError(f"Expected an idx file of at most {MAX_IDX_BYTES // 2**20} MB unpacked. Received: {name}, "
                               "which unpacks to more (a gzip bomb?)")
        data = out
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise DatasetError(f"Expected an idx file starting with 0x0000 and a type code. Received: {name}")
    ndim = data[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[data[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(data) - header != expected:
        raise DatasetError(f"Expected {expected} bytes of data in {name} for shape {dims}. Received: {len(data) - header}")
    return np.frombuffer(data, dtype, offset=header).reshape(dims)


def load_idx_folder(folder: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read the four official idx files from ``folder`` (``.gz`` or uncompressed).

    The four come from one set even while ``save_idx_uploads`` replaces them (``core.data.versioned_folder``).
    """
    return read_folder(Path(folder), _read_four)


def _read_four(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    arrays = {}
    for key, fname in IDX_FILES.items():
        candidates = [folder / fname, folder / fname[:-3]]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise DatasetError(
                f"Expected the file {fname} in {folder}. The folder must hold the four official idx files: "
                + ", ".join(IDX_FILES.values())
            )
        arrays[key] = read_idx(found)
    return arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"]


def check_idx_set(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray) -> None:
    """Raise DatasetError unless the four arrays make one dataset: images and labels that go together."""
    for what, x, y in (("training", x_train, y_train), ("test", x_test, y_test)):
        if x.ndim != 3 or x.dtype != np.uint8:
            raise DatasetError(f"Expected {what} images of shape (N, height, width) and bytes. "
                               f"Received: shape={x.shape}, {x.dtype}")
        if y.ndim != 1 or len(y) != len(x):
            raise DatasetError(f"Expected one {what} label per image. Received: {len(y)} labels of shape {y.shape} "
                               f"for {len(x)} images")
        if len(y) and (int(y.min()) < 0 or int(y.max()) > 9):
            raise DatasetError(f"Expected {what} labels from 0 to 9. Received: {int(y.min())} to {int(y.max())}")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DatasetError(f"Expected training and test images of one size. Received: {x_train.shape[1:]} and "
                           f"{x_test.shape[1:]}")


def save_idx_uploads(files: dict[str, bytes], folder: str | Path) -> Path:
    """Check uploaded idx files and store the four official ones in ``folder``, replacing the set it held.

    The four are written into a new folder beside it, read back and checked together, and only then
    made what ``folder`` holds, in one step (``core.data.versioned_folder``): a session loading the
    dataset meanwhile reads the old four or the new four, never a mix, and a set that fails a check
    leaves the old one as it was.

    Args:
        files: file name -> bytes, as uploaded (``.gz`` or uncompressed names).
        folder: where to keep them; a dataset can then be loaded from it.

    Returns:
        The folder.

    Raises:
        DatasetError: a name that is not one of the four, a file that is not a valid
            idx file, a missing file, or four files that do not make one dataset;
            nothing is changed then.
    """
    folder = Path(folder)
    wanted = {name: name for name in IDX_FILES.values()}
    wanted.update({name[:-3]: name for name in IDX_FILES.values()})
    checked: dict[str, bytes] = {}
    for name, data in files.items():
        base = Path(name).name
        if base not in wanted:
            raise DatasetError(f"Expected only the official files {', '.join(IDX_FILES.values())}. Received: {base}")
        parse_idx(data, base)  # raises DatasetError, naming the file, for anything that is not an idx file
        gz = wanted[base]
        checked[gz] = data if base.endswith(".gz") else gzip.compress(data)
    missing = sorted(set(IDX_FILES.values()) - set(checked))
    if missing:
        raise DatasetError(f"Expected all four official files. Missing: {', '.join(missing)}")
    stage = staging_folder(folder)
    try:
        for name, data in checked.items():
            (stage / name).write_bytes(data)
        check_idx_set(*_read_four(stage))  # what was written, read back
        publish_folder(stage, folder)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return folder
