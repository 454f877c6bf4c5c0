"""core.faces.cli: ``main``, in this process, prints a photo's faces as JSON on its last line, or exits 2.

The same command in a process of its own (``python -m core.faces``) is in tests/system/test_faces_cli.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from core.faces import detect as F
from core.faces.cli import main
from face_photos import source


def test_main_prints_and_returns_one_object_per_face(tmp_path, capsys):
    astronaut = source("astronaut")
    Image.fromarray(astronaut).save(tmp_path / "astronaut.png")
    result = main([str(tmp_path / "astronaut.png")])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == f"1 face in {tmp_path / 'astronaut.png'} (512x512)"
    assert json.loads(lines[-1]) == result and len(result) == 1
    expected = F.detect_faces(astronaut)[0].to_dict()  # what the library finds in the same pixels
    assert result[0]["box"] == list(expected["box"]) and set(result[0]["landmarks"]) == set(F.LANDMARKS)
    assert result[0]["confidence"] == pytest.approx(expected["confidence"])


def test_main_with_no_face_prints_an_empty_list(tmp_path, capsys):
    Image.fromarray(np.full((120, 160, 3), 128, np.uint8)).save(tmp_path / "grey.png")
    assert main([str(tmp_path / "grey.png")]) == []
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("0 faces in ") and "(160x120)" in lines[0] and json.loads(lines[-1]) == []


def test_main_min_confidence_above_one_leaves_every_face_out(tmp_path, capsys):
    Image.fromarray(source("astronaut")).save(tmp_path / "astronaut.png")
    assert main([str(tmp_path / "astronaut.png"), "--min-confidence", "1.01"]) == []


@pytest.mark.parametrize("name, content, message", [
    ("notes.png", b"not a picture", "not an image we can read"),
    ("missing.jpg", None, "No such file"),
])
def test_main_exits_2_with_the_reason(tmp_path, capsys, name, content, message):
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(SystemExit) as info:
        main([str(tmp_path / name)])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
