"""core is plain Python: every module of it imports without streamlit, and ``import core`` stays cheap.

The modules are found with ``pkgutil.walk_packages``, so a new module is checked without editing this file.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import core


def core_modules() -> list[str]:
    """Every module and package under ``core`` (``__main__`` modules excluded: importing one runs its command)."""
    found = ["core"] + [m.name for m in pkgutil.walk_packages(core.__path__, prefix="core.")]
    return sorted(name for name in found if not name.endswith(".__main__"))


def test_walk_finds_every_file_of_core(repo_root):
    files = {p.relative_to(repo_root).with_suffix("") for p in (repo_root / "core").rglob("*.py")}
    names = {".".join(p.parts[:-1]) if p.name == "__init__" else ".".join(p.parts) for p in files}
    assert set(core_modules()) == {n for n in names if not n.endswith(".__main__")}
    assert {"core.data", "core.models", "core.training", "core.inspection", "core.faces", "core.storage"} <= names


def test_core_imports_without_streamlit(repo_root, make_subprocess_env):
    modules = core_modules()
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps({'streamlit': sorted(m for m in sys.modules if m == 'streamlit' or m.startswith('streamlit.')),"
        f" 'loaded': [m for m in {modules!r} if m in sys.modules]}}))\n"
    )
    # A fresh interpreter: this test process may already hold streamlit from other tests.
    proc = subprocess.run([sys.executable, "-c", script], cwd=repo_root, env=make_subprocess_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["loaded"] == modules
    assert result["streamlit"] == [], f"core pulled in streamlit: {result['streamlit'][:5]}"


def test_import_core_is_cheap(repo_root, make_subprocess_env):
    # core/__init__ promises that TensorFlow is imported lazily, by the modules that need it: the
    # first page draws from these before TensorFlow has loaded.
    script = ("import sys, core, core.data, core.models.presets, core.data.images, core.storage.registry, "
              "core.data.zip_import, core.training.jobs, core.training.config; print('tensorflow' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", script], cwd=repo_root, env=make_subprocess_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "False"


def test_core_turns_on_onednn_unless_told_not_to(repo_root, make_subprocess_env):
    script = ("import core, tensorflow; from tensorflow.python.util import _pywrap_util_port as port; "
              "print(port.IsMklEnabled())")
    for setting, expected in ((None, "True"), ("0", "False")):
        env = make_subprocess_env()
        env.pop("TF_ENABLE_ONEDNN_OPTS", None)
        if setting is not None:
            env["TF_ENABLE_ONEDNN_OPTS"] = setting
        proc = subprocess.run([sys.executable, "-c", script], cwd=repo_root, env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert proc.stdout.strip().splitlines()[-1] == expected, setting
