"""core.models.layer_arithmetic: each layer's output shape and weight count, checked against Keras building it."""

from __future__ import annotations

import keras
import pytest
from keras import layers

from core.models.layer_arithmetic import SAME_SHAPE, LayerConfigError, known_layers, layer_output

IMAGE = (17, 13, 6)

# (layer, input shape): every rule of the module, with the options that change its figures.
CASES = [
    (layers.Conv2D(8, 3), IMAGE),
    (layers.Conv2D(8, (5, 3), strides=2, padding="same", use_bias=False), IMAGE),
    (layers.Conv2D(8, 3, strides=(3, 2), padding="valid"), IMAGE),
    (layers.Conv2D(4, 3, dilation_rate=2), IMAGE),
    (layers.Conv2D(4, 3, groups=2), IMAGE),
    (layers.Conv2D(4, 1), (1, 1, 3)),
    (layers.DepthwiseConv2D(3, depth_multiplier=2, strides=2, padding="same"), IMAGE),
    (layers.DepthwiseConv2D(3, use_bias=False), IMAGE),
    (layers.SeparableConv2D(7, 3, depth_multiplier=3), IMAGE),
    (layers.SeparableConv2D(7, 3, strides=2, padding="same", use_bias=False), IMAGE),
    (layers.Dense(5), (12,)),
    (layers.Dense(5, use_bias=False), IMAGE),
    (layers.BatchNormalization(), IMAGE),
    (layers.BatchNormalization(center=False, scale=False), IMAGE),
    (layers.BatchNormalization(axis=1), IMAGE),
    (layers.LayerNormalization(), IMAGE),
    (layers.LayerNormalization(axis=[1, 2, 3]), IMAGE),
    (layers.LayerNormalization(rms_scaling=True), IMAGE),
    (layers.LayerNormalization(center=False), (12,)),
    (layers.GroupNormalization(3), IMAGE),
    (layers.Normalization(), IMAGE),
    (layers.Normalization(axis=None), IMAGE),
    (layers.Normalization(mean=0.5, variance=2.0), IMAGE),
    (layers.PReLU(), IMAGE),
    (layers.PReLU(shared_axes=[1, 2]), IMAGE),
    (layers.MaxPooling2D(), IMAGE),
    (layers.MaxPooling2D(3, strides=2, padding="same"), IMAGE),
    (layers.AveragePooling2D((2, 3), strides=1), IMAGE),
    (layers.GlobalAveragePooling2D(), IMAGE),
    (layers.GlobalMaxPooling2D(keepdims=True), IMAGE),
    (layers.Flatten(), IMAGE),
    (layers.Resizing(9, 31), IMAGE),
    (layers.CenterCrop(5, 7), IMAGE),
    (layers.RandomCrop(5, 7), IMAGE),
    (layers.Reshape((13, -1)), IMAGE),
    (layers.Reshape((6, 13, 17)), IMAGE),
    (layers.ZeroPadding2D(2), IMAGE),
    (layers.ZeroPadding2D(((1, 2), (3, 4))), IMAGE),
    (layers.Cropping2D(((1, 2), (3, 4))), IMAGE),
    (layers.Cropping2D(1), IMAGE),
    (layers.UpSampling2D((2, 3)), IMAGE),
    (layers.Dropout(0.5), IMAGE),
    (layers.Rescaling(1 / 255), IMAGE),
    (layers.RandomFlip(), IMAGE),
    (layers.RandomRotation(0.1), IMAGE),
]


def _name(case):
    layer, shape = case
    return f"{type(layer).__name__}-{layer.name}-{'x'.join(map(str, shape))}"


@pytest.mark.parametrize("layer, shape", CASES, ids=[_name(c) for c in CASES])
def test_figures_match_keras(layer, shape):
    layer.build((None, *shape))
    expected_shape = tuple(layer.compute_output_shape((None, *shape)))[1:]
    config = layer.get_config()
    assert layer_output(type(layer).__name__, config, [shape]) == (expected_shape, layer.count_params())


@pytest.mark.parametrize("name", sorted(SAME_SHAPE))
def test_layers_that_keep_the_shape_keep_it_and_hold_no_weights(name):
    from core.models.imagenet import preprocessing_layer_class

    # CNN Lab's own ImageNetPreprocessing is checked as Keras's layers are
    cls = preprocessing_layer_class() if name == "ImageNetPreprocessing" else getattr(layers, name)
    args = {"Activation": ["relu"], "Dropout": [0.2], "SpatialDropout2D": [0.2], "GaussianNoise": [0.1],
            "GaussianDropout": [0.1], "AlphaDropout": [0.1], "Rescaling": [0.5], "RandomRotation": [0.1],
            "RandomZoom": [0.1], "RandomTranslation": [0.1, 0.1], "RandomContrast": [0.1],
            "RandomBrightness": [0.1], "RandomHue": [0.1, (0, 1)], "RandomSaturation": [0.1],
            "RandomSharpness": [0.1], "RandomShear": [0.1], "RandomColorDegeneration": [0.1],
            "RandomPosterization": [4], "RandomInvert": [], "Solarization": [], "RandomErasing": [],
            "RandomPerspective": []}.get(name, [])
    layer = cls(*args)
    shape = (16, 16, 3)
    inputs = keras.Input(shape)
    outputs = layer(inputs)
    assert layer_output(name, layer.get_config(), [shape]) == (tuple(outputs.shape[1:]), layer.count_params())


@pytest.mark.parametrize("layer, shapes", [
    (layers.Add(), [IMAGE, IMAGE]),
    (layers.Multiply(), [IMAGE, (1, 1, 6)]),
    (layers.Subtract(), [IMAGE, IMAGE]),
    (layers.Average(), [IMAGE, IMAGE, IMAGE]),
    (layers.Maximum(), [(5,), (5,)]),
    (layers.Concatenate(), [IMAGE, (17, 13, 2)]),
    (layers.Concatenate(axis=1), [IMAGE, (3, 13, 6)]),
])
def test_merges_match_keras(layer, shapes):
    outputs = layer([keras.Input(s) for s in shapes])
    assert layer_output(type(layer).__name__, layer.get_config(), shapes) == (tuple(outputs.shape[1:]), 0)


@pytest.mark.parametrize("class_name, config, shapes, expected", [
    ("LSTM", {"units": 4}, [(5, 3)], "Received: LSTM"),
    ("Conv2D", {"filters": 4, "kernel_size": [3, 3], "data_format": "channels_first"}, [IMAGE], "channels-last"),
    ("Conv2D", {"filters": 1.5, "kernel_size": [3, 3]}, [IMAGE], "filters to be a whole number"),
    ("Conv2D", {"filters": True, "kernel_size": [3, 3]}, [IMAGE], "filters to be a whole number"),
    ("Conv2D", {"filters": 4, "kernel_size": [30, 3]}, [IMAGE], "at least 30 pixels"),
    ("Conv2D", {"filters": 4, "kernel_size": [3, 3], "groups": 4}, [IMAGE], "to divide"),
    ("Conv2D", {"filters": 4, "kernel_size": [3, 3], "lora_rank": 2}, [IMAGE], "lora_rank"),
    ("Dense", {"units": 4, "quantization_config": {"mode": "int8"}}, [(5,)], "quantization_config"),
    ("Dense", {"units": 0}, [(5,)], "units to be a whole number of at least 1"),
    ("Dense", {"units": float("inf")}, [(5,)], "units to be a whole number"),
    ("Dense", {"units": 4}, [(5,), (5,)], "Expected one input"),
    ("MaxPooling2D", {"pool_size": [2, 2]}, [(5,)], "Expected images"),
    ("Reshape", {"target_shape": [7, -1]}, [IMAGE], "target_shape of 1326 numbers"),
    ("Add", {}, [IMAGE, (17, 13, 2)], "broadcast"),
    ("Concatenate", {"axis": -1}, [IMAGE, (3, 13, 6)], "alike but along axis 3"),
    ("BatchNormalization", {"axis": 4}, [IMAGE], "Expected axis"),
])
def test_what_does_not_add_up_is_refused(class_name, config, shapes, expected):
    with pytest.raises(LayerConfigError, match=expected.replace("(", r"\(")):
        layer_output(class_name, config, shapes)


def test_every_known_layer_is_a_keras_layer_or_cnn_labs_own():
    assert all(hasattr(layers, name) for name in known_layers() - {"ImageNetPreprocessing"})
