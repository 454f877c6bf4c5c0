"""Refuse a ``.keras`` file over the server's limits before Keras reads it.

``keras.models.load_model`` builds every layer a file's config.json describes before anything can
look at the model: a 2.4 KB file whose config says ``Dense(units=100000000)`` spent 31 s and 4 GB in
it on this app, and a 21 KB one taking 20000x20000 images was accepted. ``check_model_file`` reads
only the archive's index and its config.json (at most ``max_config_bytes()``, however large the
index says it is), works out the model's figures from the config (``core.storage.model_config``) and
raises ``ModelFileError`` for any limit of ``core.settings`` they go over. It also refuses a weights
member that would unpack to more than the model's weights can fill: a 311 KB file of deflated zeros
took 2.66 GB and wrote 318 MB when Keras unpacked it.

Both ways in call it: ``ModelRegistry.import_upload`` for an upload, and ``core.storage.files.load_model``
for every load, so a file put in the models folder by hand is checked too. It takes about a
millisecond for the app's own models, which are stored uncompressed.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

from core.models.size_limits import ModelSize, count, limit_problems
from core.settings import human_bytes, limits
from core.storage.files import ModelFileError
from core.storage.model_config import ConfigRefusal, measure_config

CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
# The config.json of real models takes about 1 KB a layer (ResNet50: 169 KB for 177 layers).
CONFIG_BYTES_PER_LAYER = 10 * 2**10
METADATA_BYTES = 64 * 2**10
# A weight is saved with up to five copies of the optimiser's (Adam with amsgrad keeps three, an
# average of the weights one more, gradient accumulation one more): the app's shipped model, trained
# with Adam, stores 12.8 bytes for each weight of 4. HDF5 adds about 1 KB for each variable it stores.
WEIGHT_COPIES = 6
WEIGHTS_SLACK_BYTES = 2**20
WEIGHTS_SLACK_PER_LAYER = 32 * 2**10
# Python's zipfile holds every entry of an archive's index in memory: a 78 MB upload of a million
# empty entries took 7.3 s and 315 MB to open. A .keras file's index is about 200 bytes.
MAX_INDEX_BYTES = 64 * 2**10
_CHUNK = 2**20


def max_config_bytes() -> int:
    """Bytes of config.json read at most: ``CONFIG_BYTES_PER_LAYER`` for each layer a model may have."""
    return limits().max_layers * CONFIG_BYTES_PER_LAYER


def check_model_file(source: bytes | str | Path, filename: str | None = None) -> ModelSize:
    """The figures of a ``.keras`` file's model, or ModelFileError if it goes over a limit.

    Args:
        source: the file's bytes, or its path.
        filename: the name to show in messages; the path's name when None.

    Returns:
        Its ``ModelSize`` (weights, input shape, layers...), worked out with no layer built.

    Raises:
        ModelFileError: a damaged archive, a model the check cannot vouch for, or one over a limit;
            the message tells a learner which figure, the limit and the ``CNNLAB_*`` variable that sets it.
    """
    shown = filename or (Path(source).name if isinstance(source, (str, Path)) else "the file")
    try:
        with (io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else open(source, "rb")) as f:
            check_zip_index(f, shown)
            with zipfile.ZipFile(f) as archive:
                return _check_archive(archive, shown)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
            OSError, ValueError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise ModelFileError(f"Model file not found: {source}") from exc
        raise ModelFileError(f"{shown} is a damaged zip archive: {exc}") from exc


def check_zip_index(f, shown: str) -> None:
    """Refuse an archive whose index (central directory) is larger than a model file's, before it is parsed.

    Finds the index's size as ``zipfile`` does (the end record at the end of the file, else the last
    one in its final 64 KB); a file with no end record is left for ``zipfile`` to refuse.
    """
    f.seek(0, io.SEEK_END)
    size = f.tell()
    end = max(0, size - 22)
    f.seek(end)
    record = f.read(22)
    if not (len(record) == 22 and record[:4] == zipfile.stringEndArchive and record[-2:] == b"\0\0"):
        start = max(0, size - 22 - 2**16)
        f.seek(start)
        tail = f.read()
        at = tail.rfind(zipfile.stringEndArchive)
        if at < 0 or len(tail) - at < 22:
            f.seek(0)
            return
        end, record = start + at, tail[at:at + 22]
    entries, index_bytes = struct.unpack("<10xHI", record[:16])
    f.seek(max(0, end - 20))
    zip64 = end >= 20 and f.read(4) == zipfile.stringEndArchive64Locator
    f.seek(0)
    if index_bytes > MAX_INDEX_BYTES or entries == 0xFFFF or zip64:
        raise ModelFileError(f"{shown} is not a Keras model file: its zip index lists "
                             f"{'a huge number of' if zip64 or entries == 0xFFFF else format(entries, ',')} files in "
                             f"{human_bytes(index_bytes)}, where a .keras file lists 3 ({CONFIG}, {METADATA} and "
                             f"{WEIGHTS}) in a few hundred bytes.")


def _check_archive(archive: zipfile.ZipFile, shown: str) -> ModelSize:
    members = {info.filename: info for info in archive.infolist()}
    if CONFIG not in members:
        raise ModelFileError(f"{shown} is a zip archive but not a Keras model: it has no {CONFIG}. "
                             f"Expected a file saved with Keras 3's model.save(\"name.keras\").")
    others = sorted(set(members) - {CONFIG, METADATA, WEIGHTS})
    if len(members) < len(archive.infolist()):
        # Keras unpacks the whole archive to disk when it lists more than 3 names, duplicates included.
        raise ModelFileError(f"{shown} was refused: its zip archive holds a file twice under one name. The file may "
                             f"be damaged; save the model again with Keras 3.")
    if others:
        # Keras unpacks any other member to disk as the model's assets, which only layers CNN Lab does not take have.
        raise ModelFileError(f"{shown} was refused: a .keras file of an image model holds {CONFIG}, {METADATA} and "
                             f"{WEIGHTS}; this one also holds {', '.join(others[:3])}"
                             f"{' and more' if len(others) > 3 else ''}.")
    cap = max_config_bytes()
    text = _bounded_read(archive, members[CONFIG], cap, shown, f"({human_bytes(CONFIG_BYTES_PER_LAYER)} for each of the "
                                                              f"{limits().max_layers:,} layers a model may have, "
                                                              f"CNNLAB_MAX_LAYERS)")
    if METADATA in members:
        _bounded_read(archive, members[METADATA], METADATA_BYTES, shown, "")
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ModelFileError(f"{shown} was refused: its {CONFIG} is not valid JSON ({str(exc)[:200]}). The file may be "
                             f"damaged; save the model again with Keras 3.") from exc
    try:
        size = measure_config(config)
    except ConfigRefusal as exc:
        raise ModelFileError(f"{shown} was refused: {exc}.") from exc
    except RecursionError as exc:
        raise ModelFileError(f"{shown} was refused: its {CONFIG} nests its settings too deep to check.") from exc
    problems = limit_problems(size)
    if problems:
        raise ModelFileError(f"{shown} is too big for this server. " + " ".join(problems))
    if WEIGHTS in members:
        _check_weights(archive, members[WEIGHTS], size, shown)
    return size


def _bounded_read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, shown: str, why: str) -> bytes:
    """The member's bytes, reading at most ``cap`` + 1 of them whatever its header says."""
    too_big = (f"{shown} was refused: its {info.filename} unpacks to more than {human_bytes(cap)}, the most CNN Lab "
               f"reads{(' ' + why) if why else ''}.")
    if info.file_size > cap:
        raise ModelFileError(too_big)
    with archive.open(info) as member:
        data = member.read(cap + 1)
    if len(data) > cap:
        raise ModelFileError(too_big)
    return data


def _check_weights(archive: zipfile.ZipFile, info: zipfile.ZipInfo, size: ModelSize, shown: str) -> None:
    """Refuse a weights member larger than the model's weights can fill, its header and its content both."""
    allowed = (size.params * size.weight_bytes * WEIGHT_COPIES + WEIGHTS_SLACK_BYTES
               + WEIGHTS_SLACK_PER_LAYER * size.layers)
    unpacked = info.file_size
    if info.compress_type != zipfile.ZIP_STORED and unpacked <= allowed:
        # A compressed member's header may understate it: unpack it, in chunks, up to the bound.
        unpacked = 0
        with archive.open(info) as member:
            while unpacked <= allowed and (chunk := member.read(_CHUNK)):
                unpacked += len(chunk)
    if unpacked > allowed:
        raise ModelFileError(
            f"{shown} was refused: its weights file, {WEIGHTS}, unpacks to {human_bytes(unpacked)} or more, but the "
            f"{count(size.params)} weights its {CONFIG} describes fill at most {human_bytes(allowed)}, with the "
            f"optimiser's copies. The file is damaged or was made to fill the server's memory; save the model again "
            f"with Keras 3. (Larger models are limited by CNNLAB_MAX_PARAMS, now {limits().max_params:,} weights.)")
