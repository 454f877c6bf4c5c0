"""Shared pytest fixtures of the CNN Lab test suite.

Add new fixtures in their own clearly marked block below.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# ---------------------------------------------------------------------------
# Core-suite fixtures: paths and the real shared datasets
# (used by tests/test_datasets.py, test_models.py, test_training.py, ...)
# ---------------------------------------------------------------------------

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"

# `import core` must work however pytest was started (rootdir, IDE, `python -m pytest`).
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# core sets TensorFlow's environment (oneDNN kernels on); test modules import keras
# themselves, so it must come first for the suite to run TensorFlow as the app does.
import core  # noqa: E402,F401


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
# Every test gets its own models folder, so nothing is written to ~/.cnnlab.
# ---------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def private_models_dir(tmp_path_factory, monkeypatch):
    folder = tmp_path_factory.mktemp("models")
    monkeypatch.setenv("CNNLAB_MODELS_DIR", str(folder))
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    return folder


# ---------------------------------------------------------------------------
# The shipped default model, loaded once for the whole run. Tests only read it.
# ---------------------------------------------------------------------------

SHIPPED_MODEL = REPO_ROOT / "assets" / "models" / "shapes_default"


@pytest.fixture(scope="session")
def shipped():
    from core.storage import load_model

    return load_model(SHIPPED_MODEL)[0]


# ---------------------------------------------------------------------------
# Tests that use the shared datasets when they are there, and still run without them.
# ---------------------------------------------------------------------------

@pytest.fixture(scope="session")
def shared_datasets_or_none() -> Path | None:
    """``../shared/datasets``, or None where it is absent (the test then checks what it can without it)."""
    return SHARED_DATASETS if SHARED_DATASETS.is_dir() else None
