"""Files the students of a class bring to a classroom server: their photos, models and webcam, and a bad-input set.

Everything is written into a folder of the caller's, from numbers alone (no download), for
``bench.classroom`` and the end-to-end tests of classroom mode (``tests/e2e/test_classroom.py``).

``bad_inputs`` writes what one mischievous (or unlucky) student sends: for each file, the upload it
goes through and what it is. The app must answer each with a message (an error or a warning) and
no exception; which message is for the app to choose.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

# Two colours a small CNN tells apart in a few epochs: training ends with a model that has learned something.
CLASS_COLOURS = {"red": (200, 40, 40), "blue": (40, 60, 200)}


def photo_png(size: int = 48, colour=(200, 40, 40), seed: int = 0) -> bytes:
    """A photo-like PNG: a colour with noise and a bright square somewhere."""
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(colour, float) + rng.normal(0, 30, (size, size, 3)), 0, 255)
    x, y = rng.integers(0, size // 2, 2)
    pixels[y:y + size // 3, x:x + size // 3] = 240
    buf = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def class_zip(path: Path, per_class: int = 12, size: int = 48, seed: int = 0) -> Path:
    """A zip of class folders (``red/``, ``blue/``) of ``per_class`` PNGs each, as a student zips their photos."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for k, (name, colour) in enumerate(CLASS_COLOURS.items()):
            for i in range(per_class):
                z.writestr(f"{name}/{i}.png", photo_png(size, colour, seed=seed * 1000 + k * 100 + i))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return path


def photo_file(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(photo_png(64, CLASS_COLOURS["red"], seed))
    return path


def keras_classifier(path: Path, input_shape=(32, 32, 3), classes: int = 4) -> Path:
    """A small image classifier saved by Keras itself (``path`` ends in ``.keras``; its stem becomes its name)."""
    import keras

    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="scores")(x)
    path.parent.mkdir(parents=True, exist_ok=True)
    keras.Model(inputs, outputs).save(path)
    return path


def webcam_video(path: Path, width: int = 640, height: int = 480, frames: int = 10) -> Path:
    """A ``.y4m`` video for Chromium's fake webcam (``--use-file-for-fake-video-capture``): a red scene with a
    bright square, as the students' red class."""
    import cv2

    scene = np.zeros((height, width, 3), np.uint8)
    scene[:] = CLASS_COLOURS["red"]
    scene[height // 4: height // 2, width // 4: width // 2] = 240
    yuv = cv2.cvtColor(scene, cv2.COLOR_RGB2YUV_I420)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + yuv.tobytes())
    return path


# --- bad inputs -------------------------------------------------------------------------------


@dataclass
class BadInput:
    path: Path
    target: str  # the upload it goes through: "photo" (Predict), "zip" (Data), "model" (Models)
    what: str  # what the file is, for the report


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def huge_pixel_png(width: int = 7000, height: int = 7000) -> bytes:
    """A real, complete 16-bit greyscale PNG of ``width`` x ``height`` black pixels: its zlib-compressed zeros
    make it about 100 KB, and decoding it makes 2 bytes a pixel (98 MB at 7000x7000)."""
    row = bytes(1 + 2 * width)  # the filter byte (0: none) and the row's 16-bit samples
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)  # 16-bit, greyscale
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def blank_bmp_zip(count: int = 100, side: int = 1024) -> bytes:
    """``count`` blank (black) 24-bit BMPs of ``side`` x ``side`` in two class folders: 3 MB each unpacked,
    a few KB each packed."""
    buf = io.BytesIO()
    Image.new("RGB", (side, side)).save(buf, "BMP")
    bmp = buf.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(count):
            z.writestr(f"{'blank_a' if i % 2 else 'blank_b'}/{i}.bmp", bmp)
    return out.getvalue()


def giant_dense_keras(path: Path) -> Path:
    """A small model saved by Keras whose ``config.json`` is edited to say Dense(units=100000000): 20 KB on
    disk, 500 million weights (2 GB) once built."""
    small = keras_classifier(path.with_name(path.stem + "_small.keras"), (28, 28, 1), 3)
    with zipfile.ZipFile(small) as z:
        members = {info.filename: z.read(info) for info in z.infolist()}
    config = json.loads(members["config.json"])

    def grow(node) -> None:
        if isinstance(node, dict):
            if node.get("class_name") == "Dense":
                node["config"]["units"] = 100_000_000
            for value in node.values():
                grow(value)
        elif isinstance(node, list):
            for value in node:
                grow(value)

    grow(config)
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    small.unlink()
    return path


def bad_inputs(folder: Path) -> list[BadInput]:
    """Write the bad inputs into ``folder``; returns each with its upload."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []

    def add(name: str, data: bytes, target: str, what: str) -> None:
        (folder / name).write_bytes(data)
        out.append(BadInput(folder / name, target, what))

    add("notes.jpg", b"Homework: read chapter 3, then the exercises.\n" * 30, "photo", "a text file named .jpg")
    add("huge_7000x7000_16bit.png", huge_pixel_png(), "photo",
        "a 7000x7000 16-bit PNG of zlib-compressed zeros (49 MP, 98 MB decoded)")
    whole = class_zip(folder / "whole.zip").read_bytes()
    (folder / "whole.zip").unlink()
    add("damaged.zip", whole[: len(whole) // 2] + bytes(200), "zip", "a zip cut in half")
    add("blank_bmps.zip", blank_bmp_zip(), "zip", "a zip of 100 blank 1024x1024 BMPs (300 MB unpacked)")
    out.append(BadInput(giant_dense_keras(folder / "giant_dense.keras"), "model",
                        "a .keras whose config.json says Dense(units=100000000)"))
    return out
