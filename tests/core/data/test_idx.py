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



# --- the official files are replaced as one set ---------------------------------------------------

def idx_set(version: int, n_train: int | None = None, n_labels: int | None = None) -> dict[str, bytes]:
    """Four idx files of one version: every pixel and label says ``version`` and the sizes depend on it."""
    from core.data.idx import IDX_FILES

    def idx(array: np.ndarray) -> bytes:
        header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
        return gzip.compress(header + array.astype(np.uint8).tobytes(), compresslevel=1)

    n = n_train or 2 + version % 5
    return {IDX_FILES["x_train"]: idx(np.full((n, 4, 4), version)),
            IDX_FILES["y_train"]: idx(np.full(n if n_labels is None else n_labels, version % 10)),
            IDX_FILES["x_test"]: idx(np.full((1 + version % 3, 4, 4), version)),
            IDX_FILES["y_test"]: idx(np.full(1 + version % 3, version % 10))}


def version_of(arrays) -> int | str:
    """The one version of ``idx_set`` the four arrays come from, or what the mix is."""
    x_train, y_train, x_test, y_test = arrays
    v = int(x_train[0, 0, 0])
    shapes = tuple(a.shape for a in arrays)
    alike = all((a == value).all() for a, value in zip(arrays, (v, v % 10, v, v % 10)))
    if alike and shapes == ((2 + v % 5, 4, 4), (2 + v % 5,), (1 + v % 3, 4, 4), (1 + v % 3,)):
        return v
    return f"mixed: shapes {shapes}, first values {[int(a.flat[0]) for a in arrays]}"


def test_a_set_that_fails_the_check_leaves_the_old_set_intact(tmp_path):
    from core.data.idx import load_idx_folder, save_idx_uploads

    folder = save_idx_uploads(idx_set(7), tmp_path / "mnist")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    # each file a valid idx file, but 4 labels for 3 images: only the check of the whole set sees it
    with pytest.raises(DatasetError, match=r"Expected one training label per image\. Received: 4 labels"):
        save_idx_uploads(idx_set(8, n_train=3, n_labels=4), folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert version_of(load_idx_folder(folder)) == 7
    # what is left beside it: the name readers use and the one version it points to
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.resolve().name, "mnist"]


def test_a_reader_never_sees_a_mixed_set_while_sets_are_replaced(tmp_path):
    import threading
    import time

    from core.data.idx import load_idx_folder, save_idx_uploads

    folder = tmp_path / "mnist"
    folder.mkdir()  # a plain folder, as an older version of the app stored the files
    for name, data in idx_set(250).items():
        (folder / name).write_bytes(data)
    stop, seen, errors = threading.Event(), [], []
    # A swap once the reader has begun its next read, so it lands in the middle of reads; unthrottled, the writer
    # could replace the set more often than a read on a loaded machine could finish, and no retry can help that.
    began = threading.Event()

    def replace() -> None:
        version = 0
        while not stop.is_set():
            if not began.wait(0.1):
                continue
            began.clear()
            version = version % 249 + 1
            save_idx_uploads(idx_set(version), folder)
            seen.append(("swap", version))

    def read() -> None:
        while not stop.is_set():
            began.set()
            try:
                seen.append(("read", version_of(load_idx_folder(folder))))
            except Exception as exc:  # noqa: BLE001 - any failure of a reader is the test's failure
                errors.append(repr(exc))

    threads = [threading.Thread(target=replace), threading.Thread(target=read)]
    for t in threads:
        t.start()
    # until both have done enough, however loaded the machine (the deadline is a bound, not a wait)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not errors and (sum(k == "swap" for k, _ in list(seen)) <= 20
                                                          or sum(k == "read" for k, _ in list(seen)) <= 20):
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join()
    mixed = [v for kind, v in seen if kind == "read" and isinstance(v, str)]
    swaps, reads = sum(k == "swap" for k, _ in seen), sum(k == "read" for k, _ in seen)
    assert errors == [] and mixed == [], (errors[:3], mixed[:3])
    assert swaps > 20 and reads > 20, (swaps, reads)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "mnist")[0].startswith(".mnist.v-")
    assert len(list(tmp_path.iterdir())) == 2  # the link and the one version in use: old ones are deleted
