"""How fast the app looks inside the shipped model, and how much the Activations page sends.

    python -m bench.inspect_latency [--calls 300]

Times all-layer activations for one image through the app's cached extractor
(``core.inspection.layers.activations``) and through ``model.predict`` on the same
all-layer sub-model, median over many calls after warm-up, and measures the
bytes the Activations page sends for one image: every media file it registers
(the tiled PNG maps) plus the serialized elements, rendered under AppTest. It also
times the Embedding map's projections of the shipped model's 1,000 test images (PCA and
t-SNE, once each: t-SNE is what a learner waits for when they ask for it).
Last line: JSON ``{"p50_ms", "predict_p50_ms", "speedup_vs_predict", "activations_page_bytes",
"pca_1000_s", "tsne_1000_s", "tsne_300_s"}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def time_calls(fn, calls: int, warmup: int = 20) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000.0


def page_bytes() -> int:
    """Bytes of media plus element protos the Activations page produces for its first image."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
    from streamlit.testing.v1 import AppTest

    sizes: dict[str, int] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def recording(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        sizes[file_id] = len(path_or_data) if isinstance(path_or_data, (bytes, bytearray)) else Path(path_or_data).stat().st_size
        return file_id

    MemoryMediaFileStorage.load_and_get_id = recording
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.run()
        at.switch_page("pages/activations.py")
        sizes.clear()
        at.run()
        if at.exception:
            raise RuntimeError(at.exception[0].value)
        protos = sum(getattr(e, "proto", None).ByteSize() for e in at.main if getattr(e, "proto", None) is not None)
    finally:
        MemoryMediaFileStorage.load_and_get_id = original
    return sum(sizes.values()) + protos


def projection_seconds(model, card) -> dict:
    """Seconds to lay out the embeddings of the test images as the Embedding map does (1,000 and 300 points)."""
    from core.data import load_dataset
    from core.inspection.embedding import embed, penultimate_layer, project

    dataset = load_dataset(card.dataset.name, card.dataset.options)
    features = embed(model, dataset.x_test[:1000], penultimate_layer(model))
    figures = {}
    for name, method, n in (("pca_1000_s", "pca", 1000), ("tsne_1000_s", "tsne", 1000), ("tsne_300_s", "tsne", 300)):
        start = time.perf_counter()
        project(features[:n], method, seed=0)
        figures[name] = round(time.perf_counter() - start, 2)
    return figures


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args(argv)

    import keras

    from core.data import load_dataset
    from core.inspection.layers import activations
    from core.storage.files import load_model

    model, card = load_model(ROOT / "assets" / "models" / "shapes_default")
    image = load_dataset("shapes", {"n_train": 4, "n_test": 4}).x_test[0]
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    all_layers = keras.Model(inputs, [layer.output for layer in layers])
    batch = image[None]

    p50 = time_calls(lambda: activations(model, image), args.calls)
    predict_p50 = time_calls(lambda: all_layers.predict(batch, verbose=0), max(30, args.calls // 10), warmup=5)
    figures = {
        "p50_ms": round(p50, 3),
        "predict_p50_ms": round(predict_p50, 2),
        "speedup_vs_predict": round(predict_p50 / p50, 1),
        "activations_page_bytes": page_bytes(),
        **projection_seconds(model, card),
        "layers": len(layers),
        "calls": args.calls,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
