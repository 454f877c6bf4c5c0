"""core (its __init__) in a fresh interpreter: TensorFlow's thread pools set for two towers, unless the user chose."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def _threads(repo_root, env_extra: dict) -> dict:
    code = ("import json, os, core, tensorflow as tf; "
            "print(json.dumps([os.environ.get('TF_NUM_INTRAOP_THREADS'), os.environ.get('TF_NUM_INTEROP_THREADS'), "
            "tf.config.threading.get_intra_op_parallelism_threads(), tf.config.threading.get_inter_op_parallelism_threads()]))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_NUM_")}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", code], cwd=repo_root, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_core_sets_thread_pools_for_two_towers_and_respects_the_users_choice(repo_root):
    cores = len(os.sched_getaffinity(0))
    if cores < 2:
        pytest.skip("one core: core leaves TensorFlow's thread pools alone")
    intra, inter, _, _ = _threads(repo_root, {})
    assert (intra, inter) == (str(cores // 2), "2")
    intra, inter, _, _ = _threads(repo_root, {"TF_NUM_INTRAOP_THREADS": "3", "TF_NUM_INTEROP_THREADS": "5"})
    assert (intra, inter) == ("3", "5")

