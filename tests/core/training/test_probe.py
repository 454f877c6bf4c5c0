"""core.training.probe: the replay's records, checked against the conv layers' own outputs."""

from __future__ import annotations

import numpy as np

from core.training.probe import MAPS_KEPT, ProbeRecorder


def small_model(filters: int):
    import keras

    inputs = keras.Input((8, 8, 3), name="image")
    x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(4, 3, name="conv2")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="predictions")(keras.layers.Flatten()(x))
    return keras.Model(inputs, outputs)


def test_each_record_holds_the_first_filters_and_the_probes_maps_as_the_layers_give_them():
    import keras

    model = small_model(40)
    probe = np.random.default_rng(0).random((8, 8, 3), dtype=np.float32)
    recorder = ProbeRecorder(probe)
    recorder.record(model, 0)
    conv1 = model.get_layer("conv1")
    conv1.kernel.assign(conv1.kernel * 2.0)  # training moves the weights: the next record reads them as they are
    recorder.record(model, 1)

    assert [s.epoch for s in recorder.snapshots] == [0, 1]
    first, second = recorder.snapshots
    np.testing.assert_allclose(second.kernel, first.kernel * 2.0, rtol=1e-6)
    np.testing.assert_array_equal(second.kernel, conv1.get_weights()[0])
    reference = keras.Model(model.inputs, [conv1.output, model.get_layer("conv2").output])(probe[None])
    assert second.maps["conv1"].shape == (8, 8, MAPS_KEPT)  # 40 maps, the first 32 kept
    np.testing.assert_allclose(second.maps["conv1"], np.asarray(reference[0])[0][..., :MAPS_KEPT], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(second.maps["conv2"], np.asarray(reference[1])[0], rtol=1e-5, atol=1e-6)


def test_a_model_without_convolutions_has_nothing_to_replay():
    import keras

    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)))
    recorder = ProbeRecorder(np.zeros((8, 8, 3), np.float32))
    recorder.record(model, 0)
    assert recorder.snapshots == []
