"""How long the face pipeline takes on a webcam-sized photo.

    python -m bench.face_latency [--runs 30]

The photo is scikit-image's astronaut (one face, about 100 pixels high) on a
640x480 frame, a webcam's usual size. Times building the MTCNN detector, the
first detection (TensorFlow traces its three networks), then the median and 90th
percentile of ``runs`` warm detections, of aligning the face, and of the whole
pipeline (detect, align, classify with a 64x64 face CNN). Last line: JSON
``{"photo", "faces", "detector_load_s", "first_detection_s", "detection_ms_p50",
"detection_ms_p90", "align_ms_p50", "pipeline_ms_p50", "runs", "cpus"}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np


def webcam_frame() -> np.ndarray:
    """The astronaut photo fitted into a 640x480 frame with grey borders."""
    import cv2
    from skimage import data

    face = cv2.resize(data.astronaut(), (480, 480), interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 128, np.uint8)
    frame[:, 80:560] = face
    return frame


def timed(fn, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    return samples


def main(argv: list[str] | None = None) -> dict:
    import core  # noqa: F401  (TensorFlow's settings first)

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="warm calls timed per measure")
    args = parser.parse_args(argv)

    from core.faces import detect as faces
    from core.faces.enrol import recognise_faces
    from core.models.architecture import build_model
    from core.models.presets import PRESET_SPECS

    frame = webcam_frame()
    start = time.perf_counter()
    faces.get_detector()
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    found = faces.detect_faces(frame)
    first_s = time.perf_counter() - start
    detection = timed(lambda: faces.detect_faces(frame), args.runs)
    align = timed(lambda: faces.align_face(frame, found[0], (64, 64)), args.runs)
    model = build_model(PRESET_SPECS["faces_fast"](), (64, 64, 3), 3, seed=0)
    recognise_faces(model, ["a", "b", "c"], frame)  # warm the classifier's cached function
    pipeline = timed(lambda: recognise_faces(model, ["a", "b", "c"], frame), args.runs)
    out = {"photo": "640x480", "faces": len(found), "detector_load_s": round(load_s, 2),
           "first_detection_s": round(first_s, 2),
           "detection_ms_p50": round(statistics.median(detection), 1),
           "detection_ms_p90": round(float(np.percentile(detection, 90)), 1),
           "align_ms_p50": round(statistics.median(align), 2),
           "pipeline_ms_p50": round(statistics.median(pipeline), 1), "runs": args.runs, "cpus": os.cpu_count()}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
