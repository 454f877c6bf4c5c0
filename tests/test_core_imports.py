"""core is plain Python: importing every module of it leaves streamlit out of the process."""

from __future__ import annotations

import json
import subprocess
import sys

CORE_MODULES = ["core", "core.datasets", "core.models", "core.presets", "core.training", "core.introspection",
                "core.images", "core.tiles", "core.storage", "core.jobs", "core.figures", "core.train",
                "core.registry", "core.model_checks", "core.replay", "core.featurevis", "core.evaluation",
                "core.embedding", "core.arithmetic", "core.explain", "core.zip_dataset", "core.datasets.olivetti", "core.pixel_stats",
                "core.augment", "core.recipes", "core.class_images", "core.datasets.download"]


def test_core_imports_without_streamlit(repo_root, make_subprocess_env):
    script = (
        "import importlib, json, sys\n"
        f"for name in {CORE_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps({'streamlit': sorted(m for m in sys.modules if m == 'streamlit' or m.startswith('streamlit.')),"
        " 'loaded': [m for m in " + repr(CORE_MODULES) + " if m in sys.modules]}))\n"
    )
    # A fresh interpreter: this test process may already hold streamlit from other tests.
    proc = subprocess.run([sys.executable, "-c", script], cwd=repo_root, env=make_subprocess_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["loaded"] == CORE_MODULES
    assert result["streamlit"] == [], f"core pulled in streamlit: {result['streamlit'][:5]}"


def test_import_core_is_cheap(repo_root, make_subprocess_env):
    # core/__init__ promises that TensorFlow is imported lazily, by the modules that need it.
    script = ("import sys, core, core.datasets, core.presets, core.images, core.registry, core.zip_dataset; "
              "print('tensorflow' in sys.modules)")
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
