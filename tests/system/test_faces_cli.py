"""core.faces from outside: ``python -m core.faces IMAGE`` in a process of its own, and every third ORL photo."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from core.faces import detect as F
from face_photos import source


def run_cli(*args: str, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.faces", *args], capture_output=True, text=True, env=env,
                          timeout=180)


def test_cli_prints_one_json_object_per_face(tmp_path, make_subprocess_env, shared_datasets_or_none, capsys):
    from PIL import Image

    from core.faces.cli import main

    Image.fromarray(source("astronaut")).save(tmp_path / "astronaut.png")
    # the documented command in a process of its own (TensorFlow and MTCNN start there: about 13 s)
    done = run_cli(str(tmp_path / "astronaut.png"), env=make_subprocess_env())
    assert done.returncode == 0, done.stderr
    faces = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(faces, list) and len(faces) == 1, faces
    assert faces == main([str(tmp_path / "astronaut.png")])  # what the same command finds in this process
    # the course's PGM photos, through the same command's main (each process would start again)
    if shared_datasets_or_none is not None:
        for path in (shared_datasets_or_none / "orl_faces" / "s1" / "1.pgm",
                     shared_datasets_or_none / "orl_faces" / "s37" / "4.pgm"):
            faces = main([str(path)])
            assert len(faces) == 1, (path, faces)
            faces.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1])[0])
            assert faces[0] == faces[1]  # printed as returned
    for face in faces:
        assert set(face) == {"box", "confidence", "landmarks"}
        assert len(face["box"]) == 4 and 0.9 <= face["confidence"] <= 1
        assert set(face["landmarks"]) == set(F.LANDMARKS)


def test_cli_explains_a_bad_file(tmp_path, make_subprocess_env):
    env = make_subprocess_env()
    (tmp_path / "notes.png").write_text("not a picture")
    done = run_cli(str(tmp_path / "notes.png"), env=env)
    assert done.returncode == 2 and "not an image we can read" in done.stderr
    done = run_cli(str(tmp_path / "missing.jpg"), env=env)
    assert done.returncode == 2 and "No such file" in done.stderr


def test_orl_photos_have_one_face_each(shared_datasets):
    from PIL import Image

    files = sorted((shared_datasets / "orl_faces").glob("s*/*.pgm"))
    assert len(files) == 400
    counts = [len(F.detect_faces(np.asarray(Image.open(f)))) for f in files[::3]]
    assert counts == [1] * len(counts), [str(f) for f, n in zip(files[::3], counts) if n != 1]

