"""core.storage.model_config: a Keras 3 config's figures, checked against the models Keras builds from it,
and every part of a config that Keras would act on and the walk cannot vouch for, refused."""

from __future__ import annotations

import copy
import json
import re

import keras
import pytest
from keras import layers

from core.models.architecture import build_model
from core.models.presets import PRESETS
from core.storage.model_config import ConfigRefusal, measure_config


def config_of(model) -> dict:
    return json.loads(model.to_json())  # what model.save writes as config.json


def sequential_cnn():
    return keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(8, 3), layers.BatchNormalization(),
                             layers.ReLU(), layers.MaxPooling2D(), layers.Dropout(0.2), layers.Flatten(),
                             layers.Dense(16, activation="relu"), layers.Dense(10, activation="softmax")])


def sequential_built_later():
    model = keras.Sequential([layers.Conv2D(4, 3), layers.GlobalAveragePooling2D(), layers.Dense(3)])
    model.build((None, 16, 16, 3))
    return model


def sequential_with_augmentation():
    augment = keras.Sequential([layers.RandomFlip("horizontal"), layers.RandomRotation(0.1), layers.RandomZoom(0.1),
                                layers.RandomContrast(0.1)], name="augment")
    return keras.Sequential([keras.Input((32, 32, 3)), augment, layers.Rescaling(1 / 255),
                             layers.Conv2D(6, 5, strides=2, padding="same"), layers.Flatten(), layers.Dense(4)])


def functional_branches():
    inputs = keras.Input((24, 20, 3))
    x = layers.ZeroPadding2D(1)(inputs)
    x = layers.Conv2D(8, 3, strides=2)(x)
    a = layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)
    b = layers.SeparableConv2D(16, 3, padding="same")(x)
    c = layers.Add()([a, b])
    d = layers.Concatenate()([c, x])
    d = layers.LayerNormalization()(d)
    d = layers.Multiply()([d, layers.Activation("sigmoid")(d)])
    d = layers.UpSampling2D()(d)
    d = layers.Cropping2D(2)(d)
    d = layers.AveragePooling2D(3)(d)
    e = layers.GlobalMaxPooling2D()(d)
    e = layers.Reshape((4, -1))(e)
    e = layers.Flatten()(e)
    outputs = layers.Dense(5, activation="softmax")(layers.PReLU()(e))
    return keras.Model(inputs, outputs)


def functional_shared_layers():
    left, right = keras.Input((16, 16, 1), name="left"), keras.Input((16, 16, 1), name="right")
    conv, pool = layers.Conv2D(4, 3, name="shared_conv"), layers.GlobalAveragePooling2D(name="shared_pool")
    merged = layers.Subtract()([pool(conv(left)), pool(conv(right))])
    return keras.Model([left, right], layers.Dense(2)(merged))


def nested_model_called_twice():
    inner_in = keras.Input((12, 12, 3))
    inner = keras.Model(inner_in, layers.GlobalAveragePooling2D()(layers.Conv2D(6, 3)(inner_in)), name="tower")
    a, b = keras.Input((12, 12, 3)), keras.Input((12, 12, 3))
    return keras.Model([a, b], layers.Dense(3)(layers.Concatenate()([inner(a), inner(b)])))


def transfer_learning():
    # A base of any image size (as keras.applications makes with input_shape=None), frozen and called
    # with training=False on a fixed-size input.
    base_in = keras.Input((None, None, 3))
    base = keras.Model(base_in, layers.Conv2D(8, 3, padding="same")(layers.Conv2D(4, 3)(base_in)), name="base")
    base.trainable = False
    inputs = keras.Input((48, 48, 3))
    x = base(inputs, training=False)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(2, activation="softmax")(layers.Dropout(0.2)(x)))


def float64_model():
    inputs = keras.Input((8, 8, 1))
    return keras.Model(inputs, layers.Dense(2, dtype="float64")(layers.Flatten()(inputs)))


MODELS = {f.__name__: f for f in (sequential_cnn, sequential_built_later, sequential_with_augmentation,
                                  functional_branches, functional_shared_layers, nested_model_called_twice,
                                  transfer_learning, float64_model)}


@pytest.mark.parametrize("name", list(MODELS))
def test_figures_match_the_model_keras_builds(name):
    model = MODELS[name]()
    size = measure_config(config_of(model))
    assert size.params == model.count_params()
    assert size.input_shapes == tuple(tuple(t.shape[1:]) for t in model.inputs)
    assert size.weight_bytes == (8 if name == "float64_model" else 4)


@pytest.mark.parametrize("application", [
    # depthwise convolutions, zero padding, ReLU6, residual sums
    lambda: keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3), alpha=0.35, classes=7),
    # Rescaling, Normalization, squeeze-and-excitation (Reshape, Multiply), swish
    lambda: keras.applications.EfficientNetB0(weights=None, input_shape=(64, 64, 3), classes=5),
], ids=["MobileNetV2", "EfficientNetB0"])
def test_figures_of_well_known_networks(application):
    model = application()
    size = measure_config(config_of(model))
    assert size.params == model.count_params() and size.layers == len(model.layers)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_figures_of_every_preset(preset):
    model = build_model(PRESETS[preset].spec(), (32, 32, 3), 10)
    size = measure_config(config_of(model))
    assert size.params == model.count_params() and size.input_shapes == ((32, 32, 3),)
    largest = max(model.layers, key=lambda layer: layer.output.shape[1] * layer.output.shape[2]
                  * layer.output.shape[3] if len(layer.output.shape) == 4 else layer.output.shape[-1])
    assert size.largest_output[1] == tuple(largest.output.shape[1:])


# --- refusals: each edits a config Keras wrote -----------------------------------------------------------------


def _small():
    inputs = keras.Input((8, 8, 1), name="image")
    x = layers.Flatten(name="flatten")(inputs)
    x = layers.Dense(4, name="dense")(x)
    return config_of(keras.Model(inputs, layers.Dense(2, name="out")(x)))


def _layer(config, name):
    return next(layer for layer in config["config"]["layers"] if layer["name"] == name)


def built_for_other_inputs(c):
    _layer(c, "dense")["build_config"]["input_shape"] = [None, 100_000_000]


def unconnected_layer(c):
    extra = copy.deepcopy(_layer(c, "dense"))
    extra.update(name="spare", inbound_nodes=[])
    extra["build_config"]["input_shape"] = [None, 100_000_000]
    c["config"]["layers"].append(extra)


def layer_as_initializer(c):
    _layer(c, "dense")["config"]["kernel_initializer"] = {
        "module": "keras.layers", "class_name": "Dense", "config": {"units": 10**8}, "registered_name": None,
        "build_config": {"input_shape": [None, 10**8]}}


def tensor_from_nowhere(c):
    _layer(c, "dense")["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = None


def tensor_by_keyword(c):
    node = _layer(c, "dense")["inbound_nodes"][0]
    node["kwargs"]["mask"] = node["args"][0]


def lambda_layer(c):
    _layer(c, "dense").update(class_name="Lambda")


def custom_layer(c):
    _layer(c, "dense").update(class_name="Twice", module="my_package", registered_name="my_package>Twice")


def recurrent_layer(c):
    _layer(c, "dense").update(class_name="LSTM")


def channels_first(c):
    _layer(c, "flatten")["config"]["data_format"] = "channels_first"
    _layer(c, "flatten").update(class_name="MaxPooling2D")


def quantized(c):
    _layer(c, "dense")["config"]["dtype"]["config"]["name"] = "int8_from_float32"


def cycle(c):
    _layer(c, "flatten")["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = ["out", 0, 0]


def any_size(c):
    _layer(c, "image")["config"]["batch_shape"] = [None, None, None, 1]


def legacy_nodes(c):
    _layer(c, "dense")["inbound_nodes"] = [[["flatten", 0, 0, {}]]]


def units_as_text(c):
    _layer(c, "dense")["config"]["units"] = "100"


def duplicate_names(c):
    _layer(c, "out")["name"] = "dense"


def not_a_model(c):
    c.update(_layer(c, "dense"))


def ops_in_graph(c):
    _layer(c, "dense").update(module="keras.src.ops.numpy", class_name="Add")


REFUSALS = {f.__name__: (f, words) for f, words in [
    (built_for_other_inputs, "'dense' is built for inputs of shape (100000000,) but the model gives it (64,)"),
    (unconnected_layer, "layer 'spare' is not connected"),
    (layer_as_initializer, "names an object CNN Lab does not load in its setting 'kernel_initializer'"),
    (tensor_from_nowhere, "comes from no layer"),
    (tensor_by_keyword, "given tensors by keyword"),
    (lambda_layer, "contains Python code (for example a Lambda layer)"),
    (custom_layer, "uses custom layers or functions"),
    (recurrent_layer, "cannot work out before loading it: LSTM (layer 'dense')"),
    (channels_first, "Expected channels-last images"),
    (quantized, "'int8_from_float32'; CNN Lab takes float weights only"),
    (cycle, "takes its own output"),
    (any_size, "Expected a model with a fixed image size. Received: it takes images of shape (None, None, 1)"),
    (legacy_nodes, "not in the Keras 3 form"),
    (units_as_text, "Expected units to be a whole number of at least 1. Received: '100'"),
    (duplicate_names, "two layers, or none, are named 'dense'"),
    (not_a_model, "does not describe a Sequential or Functional model"),
    (ops_in_graph, "applies a Keras operation directly in its graph"),
]}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_what_keras_would_act_on_unchecked_is_refused(case):
    edit, words = REFUSALS[case]
    config = _small()
    measure_config(copy.deepcopy(config))  # as Keras wrote it, it passes
    edit(config)
    with pytest.raises(ConfigRefusal) as info:
        measure_config(config)
    assert words in str(info.value)


def test_an_inner_model_declaring_other_inputs_than_it_is_given_is_refused():
    config = config_of(nested_model_called_twice())
    tower = _layer(config, "tower")
    inner_input = tower["config"]["layers"][0]
    inner_input["config"]["batch_shape"] = [None, 12, 12, 5]
    with pytest.raises(ConfigRefusal, match=r"declares inputs of shape \(12, 12, 5\) and is given \(12, 12, 3\)"):
        measure_config(config)


def test_an_inner_model_with_training_settings_is_refused():
    config = config_of(sequential_with_augmentation())
    config["config"]["layers"][1]["compile_config"] = {"optimizer": "adam", "loss": "mse"}
    with pytest.raises(ConfigRefusal, match="training settings"):
        measure_config(config)


def test_models_nested_too_deep_are_refused():
    model = keras.Sequential([keras.Input((4,)), layers.Dense(2)])
    for _ in range(9):
        model = keras.Sequential([keras.Input((4,)), model])
    with pytest.raises(ConfigRefusal, match="nests models more than 8 deep"):
        measure_config(config_of(model))


# --- keras.applications' MobileNetV3 (arithmetic operations in its graph) and CNN Lab's ImageNet networks -------


def test_figures_of_mobilenet_v3_with_its_operations_in_the_graph():
    model = keras.applications.MobileNetV3Small(weights=None, input_shape=(64, 64, 3), classes=6)
    config = config_of(model)
    assert {e["class_name"] for e in config["config"]["layers"] if e["module"] == "keras.src.ops.numpy"} == {
        "Add", "Multiply"}
    size = measure_config(config)
    # the operations are entries of the config (and count towards the layer limit), not of model.layers
    assert size.params == model.count_params() and size.layers == len(config["config"]["layers"]) > len(model.layers)


@pytest.fixture(scope="module")
def imagenet_config():
    from core.models.imagenet import NETWORKS, build_network

    model = build_network(NETWORKS["mobilenet_v2"], None)
    return model.count_params(), config_of(model)


def test_a_network_with_cnn_labs_preprocessing_layer_is_measured(imagenet_config):
    params, config = imagenet_config
    assert _layer(config, "imagenet_preprocessing")["registered_name"] == "cnnlab>ImageNetPreprocessing"
    assert measure_config(config).params == params


def _operation(config) -> dict:
    return next(e for e in config["config"]["layers"] if e["module"] == "keras.src.ops.numpy")


def op_on_a_string(c):
    _operation(c)["inbound_nodes"][0]["args"][1] = "import os"


def op_not_allowed(c):
    _operation(c).update(class_name="Einsum", registered_name="Einsum")


def op_with_settings(c):
    _operation(c)["config"]["equation"] = "ij->ji"


def op_shapes_that_do_not_broadcast(c):
    node = _operation(c)["inbound_nodes"][0]
    node["args"][1] = {"class_name": "__keras_tensor__", "config": {"shape": [None, 3], "dtype": "float32",
                                                                     "keras_history": ["predictions", 0, 0]}}


OPERATION_REFUSALS = {f.__name__: (f, words) for f, words in [
    (op_on_a_string, "is applied to 'import os'; CNN Lab takes tensors and plain numbers only there"),
    (op_not_allowed, "checks models made of layers and of Add, Multiply, Subtract only"),
    (op_with_settings, "checks models made of layers and of Add, Multiply, Subtract only"),
    (op_shapes_that_do_not_broadcast, "does not add up"),
]}


@pytest.mark.parametrize("case", list(OPERATION_REFUSALS))
def test_operations_other_than_plain_arithmetic_are_refused(case):
    edit, words = OPERATION_REFUSALS[case]
    model = keras.applications.MobileNetV3Small(weights=None, input_shape=(32, 32, 3), classes=3)
    config = config_of(model)
    edit(config)
    with pytest.raises(ConfigRefusal, match=re.escape(words)):
        measure_config(config)


@pytest.mark.parametrize("edit", [
    lambda e: e["config"].update(mode="exec"),
    lambda e: e["config"].update(code="print(1)"),
    lambda e: e.update(class_name="Lambda"),
], ids=["unknown mode", "extra setting", "another class"])
def test_cnn_labs_own_layer_with_other_settings_is_refused(imagenet_config, edit):
    config = copy.deepcopy(imagenet_config[1])
    edit(_layer(config, "imagenet_preprocessing"))
    with pytest.raises(ConfigRefusal, match="has settings CNN Lab does not know"):
        measure_config(config)
