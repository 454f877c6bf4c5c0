"""core.models.imagenet and core.models.imagenet_weights: the five keras.applications networks, their
preprocessing, class names and weights files (made here: tests/imagenet_files.py; nothing downloads)."""

from __future__ import annotations

import dataclasses
import importlib

import numpy as np
import pytest

from core.inspection.explain import default_gradcam_layer
from core.models.imagenet import (CAFFE_MEAN_BGR, NETWORKS, NetworkError, PREPROCESSING_LAYER, build_network,
                                  check_memory, feature_layer, imagenet_class_names, imagenet_classes,
                                  last_conv_maps, preprocess_array, preprocessing_layer_class)
from core.models.imagenet_weights import (WeightsDownloadError, WeightsError, cached_weights, check_weights_file,
                                          fetch_weights, import_weights, weights_path)
from download_fixtures import closed_port_url, Recorder, assert_monotonic_to_one, leftovers, local_mirror, offline_cache
from imagenet_files import md5, trust, weights_file

SMALL, V2 = NETWORKS["mobilenet_v3_small"], NETWORKS["mobilenet_v2"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    offline_cache(tmp_path, monkeypatch)
    monkeypatch.delenv("CNNLAB_WEIGHTS_CHECKSUMS", raising=False)
    monkeypatch.setenv("CNNLAB_WEIGHTS_MIRROR", closed_port_url())  # never Keras's own address


@pytest.fixture(scope="module")
def built():
    """Each network once, with random weights: its graph is Keras's ``weights=None`` one."""
    return {key: build_network(net, None) for key, net in NETWORKS.items()}


def test_imagenet_class_names_are_the_thousand_in_keras_order():
    rows = imagenet_classes()
    ids = [r[0] for r in rows]
    assert len(ids) == 1000 and ids == sorted(ids) and len(set(ids)) == 1000  # Keras's index: sorted WordNet ids
    names = imagenet_class_names()
    assert len(set(names)) == 1000
    assert (names[0], names[1], names[207], names[281], names[504], names[968]) == (
        "tench", "goldfish", "golden retriever", "tabby", "coffee mug", "cup")
    assert ids[281] == "n02123045" and ids[504] == "n03063599"


@pytest.mark.parametrize("key", list(NETWORKS))
def test_preprocessing_is_keras_preprocess_input_of_the_image_in_0_to_255(key):
    net = NETWORKS[key]
    family = importlib.import_module(f"keras.applications.{net.family}")
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (2, 5, 7, 3)).astype(np.float32)
    expected = family.preprocess_input(pixels.copy())
    np.testing.assert_allclose(preprocess_array(pixels / 255.0, net.mode), expected, rtol=1e-5, atol=1e-4)
    layer = preprocessing_layer_class()(net.mode)
    np.testing.assert_allclose(np.asarray(layer(pixels / 255.0)), expected, rtol=1e-5, atol=1e-4)


def test_caffe_preprocessing_flips_to_bgr_and_takes_the_mean_away():
    red = np.zeros((1, 1, 1, 3), np.float32)
    red[..., 0] = 1.0
    np.testing.assert_allclose(preprocess_array(red, "caffe")[0, 0, 0],
                               [-CAFFE_MEAN_BGR[0], -CAFFE_MEAN_BGR[1], 255.0 - CAFFE_MEAN_BGR[2]], rtol=1e-6)
    with pytest.raises(NetworkError, match="Expected a preprocessing mode"):
        preprocess_array(red, "torch")


@pytest.mark.parametrize("key,maps,features", [
    ("mobilenet_v3_small", (7, 7, 576), 576), ("mobilenet_v2", (7, 7, 1280), 1280),
    ("efficientnet_b0", (7, 7, 1280), 1280), ("resnet50", (7, 7, 2048), 2048), ("vgg16", (14, 14, 512), 4096)])
def test_each_network_is_keras_own_with_the_preprocessing_first(built, key, maps, features):
    net, model = NETWORKS[key], built[key]
    assert model.count_params() == net.params
    assert model.layers[1].name == PREPROCESSING_LAYER and model.layers[1].mode == net.mode
    assert tuple(model.input_shape[1:]) == (224, 224, 3) and tuple(model.output_shape[1:]) == (1000,)
    assert tuple(model.get_layer(last_conv_maps(model)).output.shape[1:]) == maps
    assert int(np.prod(model.get_layer(feature_layer(model)).output.shape[1:])) == features
    assert default_gradcam_layer(model) == last_conv_maps(model)  # Grad-CAM on the last block's maps


def test_the_memory_limit_counts_the_networks_loaded_already():
    check_memory(NETWORKS["vgg16"], [], 2**30)
    check_memory(SMALL, [NETWORKS["vgg16"]], 600 * 2**20)
    with pytest.raises(NetworkError, match=r"VGG16 needs 528 MB .* allows 300 MB .*CNNLAB_MAX_IMAGENET_BYTES"):
        check_memory(NETWORKS["vgg16"], [], 300 * 2**20)
    with pytest.raises(NetworkError, match=r"with VGG16 loaded \(528 MB\)"):
        check_memory(NETWORKS["resnet50"], [NETWORKS["vgg16"], NETWORKS["resnet50"]], 600 * 2**20)


# --- weights files ---------------------------------------------------------------------------------------


def test_a_file_with_keras_published_hash_loads_into_the_network_with_its_weights(tmp_path):
    path = weights_file(SMALL, tmp_path)
    published = dataclasses.replace(SMALL, file_hash=md5(path))  # as if this file were Keras's
    assert check_weights_file(published, path) == "published hash"
    model = build_network(published, path)
    source = build_network(SMALL, None)
    source.load_weights(path)
    for mine, theirs in zip(model.weights, source.weights):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    image = np.random.default_rng(1).random((1, 224, 224, 3), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(model(image)), np.asarray(source(image)), atol=1e-6)
    fresh = build_network(SMALL, None)
    assert not np.array_equal(np.asarray(fresh.get_layer("conv").kernel), np.asarray(model.get_layer("conv").kernel))


def test_files_that_are_not_the_networks_are_refused_with_the_reason(tmp_path, monkeypatch):
    mine = weights_file(SMALL, tmp_path / "mine")
    other = weights_file(V2, tmp_path / "other")
    with pytest.raises(WeightsError, match=r"not MobileNetV3Small's ImageNet weights as Keras publishes them.*MD5 is "
                                           + md5(mine)):
        check_weights_file(SMALL, mine)
    trust(mine, SMALL, tmp_path, monkeypatch)
    assert check_weights_file(SMALL, mine) == "teacher's hash"
    published_other = dataclasses.replace(V2, file_hash=md5(other))
    monkeypatch.setitem(NETWORKS, "mobilenet_v2", published_other)
    with pytest.raises(WeightsError, match="holds MobileNetV2's weights, not MobileNetV3Small's"):
        check_weights_file(SMALL, other)
    cut = tmp_path / "cut.h5"
    cut.write_bytes(mine.read_bytes()[: mine.stat().st_size // 2])
    with pytest.raises(WeightsError, match="cut short or damaged"):
        check_weights_file(SMALL, cut)
    png = tmp_path / "photo.h5"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(WeightsError, match=r"not a Keras weights file \(\.h5, HDF5\)"):
        check_weights_file(SMALL, png)


def test_mobilenet_v2_has_no_published_hash_so_an_import_is_proved_by_loading(tmp_path):
    assert V2.file_hash is None
    wrong = weights_file(SMALL, tmp_path, name="mobilenet_v2.h5")
    with pytest.raises(WeightsError, match="not MobileNetV2's weights"):
        import_weights(V2, wrong.read_bytes(), "mobilenet_v2.h5")
    assert cached_weights(V2) is None and leftovers_of(weights_path(V2).parent) == []
    right = weights_file(V2, tmp_path / "right")
    with open(right, "rb") as fh:
        path = import_weights(V2, fh, "mobilenet_v2.h5")
    assert path == weights_path(V2) and cached_weights(V2) == path and md5(path) == md5(right)


def test_a_refused_import_leaves_the_cached_file_as_it_was(tmp_path, monkeypatch):
    good = weights_file(SMALL, tmp_path / "good")
    trust(good, SMALL, tmp_path, monkeypatch)
    import_weights(SMALL, good.read_bytes(), "good.h5")
    other = weights_file(SMALL, tmp_path / "other", seed=1)
    with pytest.raises(WeightsError, match="not MobileNetV3Small's ImageNet weights"):
        import_weights(SMALL, other.read_bytes(), "other.h5")
    with pytest.raises(WeightsError, match="far more than MobileNetV3Small's weights"):
        import_weights(SMALL, bytes(int(SMALL.weight_bytes * 1.3) + 2**21), "huge.h5")
    assert md5(weights_path(SMALL)) == md5(good) and leftovers_of(weights_path(SMALL).parent) == []


def leftovers_of(folder):
    return sorted(p.name for p in folder.glob(".*") if not p.name.endswith(".lock")) if folder.exists() else []


def test_weights_download_from_a_mirror_with_progress_once(tmp_path, monkeypatch):
    path = weights_file(SMALL, tmp_path / "served")
    trust(path, SMALL, tmp_path, monkeypatch)
    with local_mirror(monkeypatch) as mirror:
        monkeypatch.setenv("CNNLAB_WEIGHTS_MIRROR", mirror.url)
        mirror.files[SMALL.file_name] = path.read_bytes()
        rec = Recorder()
        got = fetch_weights(SMALL, progress=rec)
        assert got == weights_path(SMALL) and md5(got) == md5(path)
        assert_monotonic_to_one(rec)
        assert any("MB" in message for _, message in rec.calls)
        assert fetch_weights(SMALL) == got and mirror.requests[SMALL.file_name] == 1  # the cache, checked


def test_a_download_that_is_not_the_published_file_is_deleted(tmp_path, monkeypatch):
    served = weights_file(SMALL, tmp_path / "served")
    with local_mirror(monkeypatch) as mirror:
        monkeypatch.setenv("CNNLAB_WEIGHTS_MIRROR", mirror.url)
        mirror.files[SMALL.file_name] = served.read_bytes()  # untrusted: its hash is not Keras's
        with pytest.raises(WeightsDownloadError, match="not MobileNetV3Small's ImageNet weights"):
            fetch_weights(SMALL)
    assert not weights_path(SMALL).exists() and leftovers(weights_path(SMALL).parent) == []


def test_offline_the_error_names_the_address_that_failed():
    with pytest.raises(WeightsDownloadError) as info:
        fetch_weights(NETWORKS["resnet50"])
    assert info.value.url.endswith("/resnet50_weights_tf_dim_ordering_tf_kernels.h5")
    assert info.value.url in str(info.value) and "no connection" in str(info.value)


def test_layer_names_are_the_same_in_every_build_whatever_was_built_before(built):
    import keras

    keras.layers.Dense(2), keras.layers.Activation("relu"), keras.layers.GlobalAveragePooling2D()
    again = build_network(SMALL, None)
    assert [layer.name for layer in again.layers] == [layer.name for layer in built[SMALL.key].layers]
    assert (feature_layer(again), last_conv_maps(again)) == ("global_average_pooling2d", "activation_17")


def test_a_network_saved_in_the_models_folder_passes_the_checks_and_loads_the_same(tmp_path, built):
    from core.storage.card import ModelCard
    from core.storage.registry import ModelRegistry

    model = built[SMALL.key]  # MobileNetV3 applies keras.ops arithmetic in its graph, and starts with CNN Lab's layer
    registry = ModelRegistry(tmp_path / "models")
    entry = registry.save(model, ModelCard(name="small_from_imagenet"))
    loaded, _ = registry.load(entry.id)
    image = np.random.default_rng(2).random((1, 224, 224, 3), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(loaded(image)), np.asarray(model(image)), atol=1e-6)
    assert loaded.get_layer(PREPROCESSING_LAYER).mode == "raw"
