"""Shared pytest fixtures of the CNN Lab test suite, and its markers.

The suite's folders say what a test is, and each test is marked by its folder
(``pytest_collection_modifyitems`` below), never by hand:

- ``tests/core/``: one test module per module of ``core`` (``tests/core/training/test_jobs.py``
  tests ``core/training/jobs.py``), run in this process: marker ``unit``.
- ``tests/ui/``: the Streamlit helpers of ``ui/`` on their own: marker ``unit``.
- ``tests/app/``: the pages under Streamlit's AppTest: marker ``app``.
- ``tests/system/``: a real process each (the command lines, a server, a fresh
  interpreter), seconds apiece: marker ``system``.
- ``tests/e2e/``: the app in headless Chromium: marker ``e2e``.

``make test`` runs ``unit`` and ``app``; ``make test-all`` runs everything.
Add new fixtures in their own clearly marked block below.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# ---------------------------------------------------------------------------
# Core-suite fixtures: paths and the real shared datasets
# (used throughout tests/core, tests/app and tests/system)
# ---------------------------------------------------------------------------

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"

# `import core` must work however pytest was started (rootdir, IDE, `python -m pytest`), and the
# shared test helpers (apptest_helpers, class_photos, face_photos) from any folder of the suite.
for _path in (REPO_ROOT, REPO_ROOT / "tests"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# core sets TensorFlow's environment (oneDNN kernels on); test modules import keras
# themselves, so it must come first for the suite to run TensorFlow as the app does.
import core  # noqa: E402,F401


MARKERS_BY_FOLDER = {"core": "unit", "ui": "unit", "app": "app", "system": "system", "e2e": "e2e"}


def pytest_collection_modifyitems(config, items):
    """Mark every test by the folder it is in (see the module docstring); a test outside them is an error."""
    tests_dir = REPO_ROOT / "tests"
    for item in items:
        folder = Path(str(item.path)).relative_to(tests_dir).parts[0]
        if folder not in MARKERS_BY_FOLDER:
            raise pytest.UsageError(f"Expected every test in one of tests/{{{','.join(MARKERS_BY_FOLDER)}}}/. "
                                    f"Received: {item.nodeid}")
        item.add_marker(MARKERS_BY_FOLDER[folder])


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The project's root folder (where app.py and core/ live)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """``../shared/datasets`` next to the repository; the test is skipped where it is absent."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip("../shared/datasets not present (it exists on CI and dev machines only)")
    return SHARED_DATASETS


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for a child ``python`` that imports ``core`` from the repository root."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def make_subprocess_env():
    """``make_subprocess_env(**extra)``: an environment for a child python that can ``import core``."""
    return subprocess_env

# ---------------------------------------------------------------------------
# End of core-suite fixtures.
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# AppTest: Streamlit's scan of the installed packages, once per process.
# ---------------------------------------------------------------------------

@pytest.fixture(scope="session", autouse=True)
def scan_for_components_once():
    """Every new AppTest session scans every installed package for Streamlit components (about
    0.2 s, 13 s over the page tests); the packages do not change during a run, so the first
    scan's result is kept."""
    from streamlit.components.v2 import manifest_scanner

    scan, kept = manifest_scanner.scan_component_manifests, []

    def scan_once():
        if not kept:
            kept.append(scan())
        return list(kept[0])

    manifest_scanner.scan_component_manifests = scan_once
    yield
    manifest_scanner.scan_component_manifests = scan


# ---------------------------------------------------------------------------
# Every test gets its own models folder, so nothing is written to ~/.cnnlab.
# ---------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def private_models_dir(tmp_path_factory, monkeypatch):
    folder = tmp_path_factory.mktemp("models")
    monkeypatch.setenv("CNNLAB_MODELS_DIR", str(folder))
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    # a shell that runs a classroom server must not change what the tests see: personal mode, default limits
    from dataclasses import fields

    from core.settings import Limits

    for name in ["CNNLAB_MODE", "CNNLAB_FOLDER_ROOTS", "CNNLAB_TEACHER_KEY", "CNNLAB_TEACHERS",
                 "CNNLAB_WORKSPACE_FROM_URL", *(f"CNNLAB_{f.name.upper()}" for f in fields(Limits))]:
        monkeypatch.delenv(name, raising=False)
    return folder


# ---------------------------------------------------------------------------
# The shipped default model, loaded once for the whole run. Tests only read it.
# ---------------------------------------------------------------------------

SHIPPED_MODEL = REPO_ROOT / "assets" / "models" / "shapes_default"


@pytest.fixture(scope="session")
def shipped():
    from core.storage.files import load_model

    return load_model(SHIPPED_MODEL)[0]


# ---------------------------------------------------------------------------
# Tests that use the shared datasets when they are there, and still run without them.
# ---------------------------------------------------------------------------

@pytest.fixture(scope="session")
def shared_datasets_or_none() -> Path | None:
    """``../shared/datasets``, or None where it is absent (the test then checks what it can without it)."""
    return SHARED_DATASETS if SHARED_DATASETS.is_dir() else None


# ---------------------------------------------------------------------------
# Small Shapes datasets and a tiny model for the training and storage tests.
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_shapes():
    """160 training and 40 test images of the Shapes dataset."""
    from core.data import load_dataset

    return load_dataset("shapes", {"n_train": 160, "n_test": 40})


@pytest.fixture(scope="module")
def shapes():
    """320 training and 64 test images of the Shapes dataset."""
    from core.data import load_dataset

    return load_dataset("shapes", {"n_train": 320, "n_test": 64})


@pytest.fixture
def tiny_model(small_shapes):
    """One conv block of 4 filters and the softmax, for ``small_shapes``."""
    from core.models.architecture import build_model
    from training_models import TINY_SPEC

    return build_model(TINY_SPEC, small_shapes.input_shape, small_shapes.num_classes, seed=0)


# ---------------------------------------------------------------------------
# Dataset downloads: a Keras cache of the test's own, and a local mirror of the official files.
# ---------------------------------------------------------------------------

@pytest.fixture
def private_cache(tmp_path, monkeypatch) -> Path:
    """A Keras cache of the test's own (``$KERAS_HOME``), offline unless the test starts a mirror."""
    from download_fixtures import offline_cache

    return offline_cache(tmp_path, monkeypatch)


@pytest.fixture
def mirror(monkeypatch):
    """A running local mirror of the official dataset files that the downloads use."""
    from download_fixtures import local_mirror

    with local_mirror(monkeypatch) as m:
        yield m


# ---------------------------------------------------------------------------
# Inspection: a tiny model of each kind (Sequential, functional, ...) and an image it takes.
# ---------------------------------------------------------------------------

def _kinds():
    from inspection_models import KINDS

    return KINDS


@pytest.fixture(params=_kinds())
def model_of_each_kind(request, tmp_path):
    """A tiny model of each kind in ``inspection_models.KINDS`` (saved and loaded again for one of them)."""
    from inspection_models import tiny_model

    return tiny_model(request.param, tmp_path)


@pytest.fixture
def image():
    """A random image of the tiny models' input shape."""
    from inspection_models import random_image

    return random_image()

