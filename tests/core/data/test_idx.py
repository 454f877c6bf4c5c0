"""core.data.idx: the idx reader (plain and gzipped), its refusals, and checked idx uploads."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from core.data import DatasetError, load_dataset
from core.data.idx import read_idx
from dataset_files import write_idx


@pytest.mark.parametrize("name", ["images.idx", "images.idx.gz"])
def test_read_idx_round_trip(tmp_path, name):
    arr = np.random.default_rng(0).integers(0, 256, (3, 4, 5), dtype=np.uint8)
    out = read_idx(write_idx(tmp_path / name, arr))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, arr)


def _idx_bytes(array: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape) + array.tobytes()


GOOD_IDX = _idx_bytes(np.zeros((2, 3, 3), np.uint8))


CORRUPT_IDX = {
    "bad_magic": b"\x12\x34" + GOOD_IDX[2:],
    "unknown_type_code": GOOD_IDX[:2] + b"\x07" + GOOD_IDX[3:],
    "data_too_short": GOOD_IDX[:-5],
    "data_too_long": GOOD_IDX + b"\x00" * 7,
    "header_only_partly_there": GOOD_IDX[:6],
    "empty": b"",
}


@pytest.mark.parametrize("case", list(CORRUPT_IDX))
def test_corrupted_idx_raises_dataset_error(tmp_path, case):
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(CORRUPT_IDX[case])
    with pytest.raises(DatasetError):
        read_idx(path)


@pytest.mark.parametrize("case", ["not_gzip", "truncated_gzip"])
def test_broken_gzip_idx_raises_dataset_error(tmp_path, case):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    good = gzip.compress(_idx_bytes(np.zeros((20, 28, 28), np.uint8)))
    path.write_bytes(GOOD_IDX if case == "not_gzip" else good[: len(good) // 2])
    with pytest.raises(DatasetError, match="idx"):
        read_idx(path)


def test_a_gzip_bomb_named_as_an_idx_file_is_refused_without_unpacking_it(monkeypatch):
    import core.data.idx as idx

    monkeypatch.setattr(idx, "MAX_IDX_BYTES", 2**20)
    bomb = gzip.compress(bytes([0, 0, 0x08, 1]) + (2**21).to_bytes(4, "big") + bytes(2**21))
    with pytest.raises(DatasetError, match="at most 1 MB unpacked. Received: t10k-labels-idx1-ubyte.gz"):
        idx.parse_idx(bomb, "t10k-labels-idx1-ubyte.gz")
    assert idx.parse_idx(gzip.compress(bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 8, 9])), "x.gz").tolist() == [7, 8, 9]


def test_uploaded_idx_files_are_checked_before_anything_is_stored(tmp_path):
    from core.data.idx import IDX_FILES, save_idx_uploads

    def idx(array: np.ndarray) -> bytes:
        header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
        return gzip.compress(header + array.astype(np.uint8).tobytes())

    good = {IDX_FILES["x_train"]: idx(np.zeros((3, 4, 4))), IDX_FILES["y_train"]: idx(np.arange(3)),
            IDX_FILES["x_test"]: idx(np.ones((2, 4, 4))), IDX_FILES["y_test"]: idx(np.arange(2))}
    with pytest.raises(DatasetError, match="Missing"):
        save_idx_uploads(dict(list(good.items())[:3]), tmp_path / "a")
    with pytest.raises(DatasetError, match=f"Received: {IDX_FILES['y_test']}$"):  # the uploaded file's own name
        save_idx_uploads({**good, IDX_FILES["y_test"]: gzip.compress(b"not idx at all")}, tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    folder = save_idx_uploads(good, tmp_path / "c")
    ds = load_dataset("mnist", {"folder": str(folder)})
    assert ds.x_train.shape == (3, 4, 4, 1) and ds.y_test.tolist() == [0, 1]

