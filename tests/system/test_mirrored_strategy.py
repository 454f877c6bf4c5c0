"""core.training.run under tf.distribute.MirroredStrategy on two logical CPUs, in a fresh interpreter.

The logical devices must be set before TensorFlow starts, hence the child process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


DISTRIBUTED = textwrap.dedent("""
    import json, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from core.data import load_dataset
    from core.models.architecture import ConvBlock, ModelSpec, build_model
    from core.training.config import TrainConfig
    from core.training.run import train_model
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    strategy = tf.distribute.MirroredStrategy(devices)
    ds = load_dataset("digits")
    model = build_model(ModelSpec(blocks=[ConvBlock(8), ConvBlock(16)], dense_units=[32]), ds.input_shape, 10, seed=0)
    result = train_model(model, ds, TrainConfig(epochs=4, batch_size=32, learning_rate=3e-3), strategy=strategy)
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "loss": result["history"]["loss"],
                      "devices": result["devices"]}))
""")


def test_training_under_a_mirrored_strategy_on_two_logical_cpus(repo_root, make_subprocess_env):
    proc = subprocess.run([sys.executable, "-c", DISTRIBUTED], cwd=repo_root, env=make_subprocess_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["replicas"] == 2 and len(out["devices"]) == 2
    assert out["loss"][-1] < 0.7 * out["loss"][0], out["loss"]

