"""core.data.catalog in a child process whose downloads all fail: the error says how to supply the files instead."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def load_offline(name: str, make_subprocess_env, **env) -> dict:
    """``load_dataset(name)`` in a child process whose downloads all fail at once.

    A proxy on a closed local port makes every download fail the same way with or
    without a network: urllib, used by Keras's and scikit-learn's fetchers, honours it.
    Returns the exception's type, message and class hierarchy.
    """
    proxy = "http://127.0.0.1:9"
    env = make_subprocess_env(HTTPS_PROXY=proxy, HTTP_PROXY=proxy, https_proxy=proxy, http_proxy=proxy,
                              NO_PROXY="", no_proxy="", **env)
    script = textwrap.dedent(f"""
        import json
        from core.data import load_dataset
        try:
            load_dataset({name!r})
        except Exception as exc:
            print("RESULT " + json.dumps({{"type": type(exc).__name__, "message": str(exc),
                                          "mro": [c.__name__ for c in type(exc).__mro__]}}))
        else:
            print("RESULT " + json.dumps({{"type": None}}))
    """)
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def test_offline_download_explains_how_to_supply_files(tmp_path, make_subprocess_env):
    result = load_offline("mnist", make_subprocess_env, KERAS_HOME=str(tmp_path))
    assert result["type"] == "DatasetUnavailableError", result
    assert "DatasetError" in result["mro"]
    message = result["message"]
    assert "Could not download" in message
    assert "folder" in message and "train-images-idx3-ubyte.gz" in message
    # Nothing half-downloaded is left in the cache.
    assert not list(tmp_path.rglob("mnist.npz"))


def test_offline_olivetti_download_explains_the_folder_alternative(tmp_path, make_subprocess_env):
    result = load_offline("olivetti", make_subprocess_env, SCIKIT_LEARN_DATA=str(tmp_path))
    assert result["type"] == "DatasetUnavailableError", result
    assert "Could not download the Olivetti faces" in result["message"]
    assert "s1 ... s40" in result["message"]

