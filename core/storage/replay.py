"""Store a training run's filter and feature-map snapshots next to a saved model.

The snapshots a ``TrainingJob`` records (first conv layer's kernel, conv maps
of one probe image, at step 0 and after each epoch) go into ``ID.replay.npz``
beside ``ID.keras``, so the replay slider also works for a model loaded later.
Maps are stored as float16: they are only drawn, and it halves the file.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np


def replay_path(keras_path: str | Path) -> Path:
    """``ID.replay.npz`` for ``ID.keras``."""
    keras_path = Path(keras_path)
    return keras_path.with_name(keras_path.stem + ".replay.npz")


def encode_replay(snapshots: list, probe: np.ndarray | None) -> bytes:
    """The snapshots (``core.training.progress.Snapshot``) and the probe image as ``.npz`` bytes."""
    arrays: dict[str, np.ndarray] = {"epochs": np.asarray([s.epoch for s in snapshots], np.int32)}
    if probe is not None:
        arrays["probe"] = np.asarray(probe, np.float32)
    for i, snap in enumerate(snapshots):
        arrays[f"kernel_{i}"] = np.asarray(snap.kernel, np.float32)
        for name, maps in snap.maps.items():
            arrays[f"maps_{i}_{name}"] = np.asarray(maps, np.float16)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def decode_replay(data: bytes | Path) -> tuple[list, np.ndarray | None]:
    """Snapshots and probe back from ``encode_replay``'s bytes (or a file holding them)."""
    from core.training.progress import Snapshot

    source = io.BytesIO(data) if isinstance(data, bytes) else data
    with np.load(source, allow_pickle=False) as npz:
        epochs = [int(e) for e in npz["epochs"]]
        probe = np.array(npz["probe"]) if "probe" in npz.files else None
        snapshots = []
        for i, epoch in enumerate(epochs):
            prefix = f"maps_{i}_"
            maps = {k[len(prefix):]: np.asarray(npz[k], np.float32) for k in npz.files if k.startswith(prefix)}
            snapshots.append(Snapshot(epoch, np.array(npz[f"kernel_{i}"]), maps))
    return snapshots, probe
