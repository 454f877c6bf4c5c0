"""Real .keras files made to exhaust a server, as a student of a shared server could make them.

Used by tests/core/storage/test_model_limits.py and tests/system/test_model_limits.py. Each starts
from a small model saved by Keras and changes what an attacker would change, so everything else in
the file is what Keras writes.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import keras


def rewrite(src: Path, dst: Path, edit=None, members: dict | None = None,
            compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """Copy the .keras file ``src`` to ``dst``: its config passed through ``edit(config)`` (which changes it in
    place), members replaced or added from ``members`` (name: bytes, or a callable writing to a member file)."""
    with zipfile.ZipFile(src) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    if edit is not None:
        config = json.loads(parts["config.json"])
        edit(config)
        parts["config.json"] = json.dumps(config).encode()
    parts.update(members or {})
    with zipfile.ZipFile(dst, "w", compression=compression, compresslevel=9) as archive:
        for name, data in parts.items():
            if callable(data):
                with archive.open(name, "w", force_zip64=False) as member:
                    data(member)
            else:
                archive.writestr(name, data)
    return dst


def layers_of(config: dict) -> list[dict]:
    return config["config"]["layers"]


def small_dense(folder: Path) -> Path:
    """A 4-pixel grey image, flattened into a dense layer of 4 units and a softmax of 2."""
    inputs = keras.Input((2, 2, 1), name="image")
    x = keras.layers.Flatten(name="flatten")(inputs)
    x = keras.layers.Dense(4, activation="relu", name="dense")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="predictions")(x)
    path = folder / "small_dense.keras"
    keras.Model(inputs, outputs).save(path)
    return path


def giant_dense(folder: Path, units: int = 100_000_000) -> Path:
    """``small_dense`` whose config.json says ``Dense(units=100000000)``: about 2.4 KB.

    The dense layer's size is changed where Keras reads it (its config, and the shape its next layer is
    built for), so the file is as consistent as one Keras wrote.
    """
    def edit(config):
        dense, predictions = (layer for layer in layers_of(config) if layer["name"] in ("dense", "predictions"))
        dense["config"]["units"] = units
        predictions["build_config"]["input_shape"][-1] = units
        predictions["inbound_nodes"][0]["args"][0]["config"]["shape"][-1] = units

    return rewrite(small_dense(folder), folder / "giant_dense.keras", edit)


def tiny_cnn(folder: Path, side: int = 32, name: str = "tiny_cnn.keras", filters: int = 8) -> Path:
    """Eight 3x3 filters, global pooling and a softmax of 4: few weights at any image size."""
    inputs = keras.Input((side, side, 3), name="image")
    x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(4, activation="softmax", name="predictions")(x)
    path = folder / name
    keras.Model(inputs, outputs).save(path)  # symbolic: no image of this size is ever made
    return path


def huge_input(folder: Path, side: int = 20000) -> Path:
    """``tiny_cnn`` for 20000x20000 colour images, saved by Keras itself (about 20 KB): its first convolution's
    output alone would take 12.8 GB for one image."""
    return tiny_cnn(folder, side, "huge_input.keras")


def zero_weights(folder: Path, unpacked: int = 318 * 2**20) -> Path:
    """``tiny_cnn`` whose weights member is ``unpacked`` bytes of zeros, deflated to about 1/1000 of that (311 KB)."""
    def zeros(member):
        chunk = bytes(2**20)
        for _ in range(unpacked // len(chunk)):
            member.write(chunk)

    return rewrite(tiny_cnn(folder), folder / "zero_weights.keras", members={"model.weights.h5": zeros})
