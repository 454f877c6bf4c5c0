"""``python -m core.faces IMAGE``: the faces MTCNN finds in a photo, as JSON on the last line."""

from __future__ import annotations

import numpy as np

from core.data.images import ImageDecodeError, decode_image
from core.faces.detect import MIN_CONFIDENCE, FaceError, detect_faces


def main(argv: list[str] | None = None) -> list[dict]:
    """``python -m core.faces IMAGE``: the faces of a photo, as a JSON list on the last line."""
    import argparse
    import json
    import sys
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m core.faces", description="Find the faces in a photo with MTCNN.")
    parser.add_argument("image", help="a photo file (PNG, JPEG, PGM...)")
    parser.add_argument("--min-confidence", type=float, default=MIN_CONFIDENCE,
                        help=f"leave out faces MTCNN is less sure of (default {MIN_CONFIDENCE})")
    args = parser.parse_args(argv)
    path = Path(args.image)
    try:
        photo = np.asarray(decode_image(path.read_bytes()).convert("RGB"))
        faces = detect_faces(photo, min_confidence=args.min_confidence)
    except OSError as exc:
        parser.exit(2, f"Cannot read {path}: {exc.strerror or exc}\n")
    except (ImageDecodeError, FaceError) as exc:
        parser.exit(2, f"{path}: {exc}\n")
    result = [f.to_dict() for f in faces]
    sys.stdout.write(f"{len(result)} face{'s' if len(result) != 1 else ''} in {path} ({photo.shape[1]}x{photo.shape[0]})\n")
    sys.stdout.write(json.dumps(result) + "\n")
    return result
