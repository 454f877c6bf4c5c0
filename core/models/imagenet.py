"""Famous ImageNet networks from ``keras.applications``, ready for every page of CNN Lab.

Five networks, each trained by its authors on ImageNet's 1,000 classes: MobileNetV3Small (the
default: small and fast), MobileNetV2, EfficientNetB0, ResNet50 and VGG16. Like every CNN Lab
model, each takes a 224×224 RGB image with values in [0, 1]; its first layer,
``imagenet_preprocessing``, turns that into what its family was trained on
(``keras.applications.<family>.preprocess_input`` of the image in 0..255), so the pages feed it as
they feed any other model, and its maps start from the pixels a student sees.

    >>> net = NETWORKS["mobilenet_v3_small"]
    >>> path = fetch_weights(net, progress=print)          # core.models.imagenet_weights
    >>> model = build_network(net, path)
    >>> imagenet_class_names()[281]
    'tabby'

The weights are Keras's published files, checked before use (``core.models.imagenet_weights``);
the network is built by ``keras.applications`` itself, so its graph is exactly Keras's.
"""

from __future__ import annotations

import collections
import contextlib
import json
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
CLASSES_FILE = ROOT / "assets" / "imagenet_classes.json"
INPUT_SHAPE = (224, 224, 3)
PREPROCESSING_LAYER = "imagenet_preprocessing"
_APPLICATIONS = "https://storage.googleapis.com/tensorflow/keras-applications/"

# The "caffe" mode's means, in the blue, green, red order it works in (keras.applications.imagenet_utils)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
# What ``preprocess_input`` does to an image in 0..255, by mode: "raw" leaves it (the network scales it
# itself, MobileNetV3 and EfficientNet), "tf" maps it to [-1, 1], "caffe" flips RGB to BGR and takes
# away ImageNet's mean colour.
MODES = ("raw", "tf", "caffe")


@dataclass(frozen=True)
class Network:
    key: str  # CNN Lab's name for it: "mobilenet_v3_small"
    title: str  # what papers and Keras call it: "MobileNetV3Small"
    builder: str  # the keras.applications function
    family: str  # the keras.applications module whose preprocess_input it uses
    mode: str  # one of MODES
    file_name: str  # Keras's weights file, with the classifier, as it is cached under ~/.keras/models
    url: str  # where keras.applications downloads it
    file_hash: str | None  # the hash Keras checks (MD5: 32 hex digits, SHA-256: 64); None: Keras checks none
    params: int  # weights, classifier included
    year: int
    description: str

    @property
    def weight_bytes(self) -> int:
        """Memory its float32 weights take once loaded."""
        return 4 * self.params


def _net(key, title, builder, family, mode, file_name, folder, file_hash, params, year, description):
    return Network(key, title, builder, family, mode, file_name, _APPLICATIONS + folder + file_name, file_hash,
                   params, year, description)


NETWORKS: dict[str, Network] = {n.key: n for n in (
    _net("mobilenet_v3_small", "MobileNetV3Small", "MobileNetV3Small", "mobilenet_v3", "raw",
         "weights_mobilenet_v3_small_224_1.0_float.h5", "mobilenet_v3/", "8768d4c2e7dee89b9d02b2d03d65d862",
         2_554_968, 2019,
         "Made for phones: found by a search over architectures, with squeeze-and-excitation and hard-swish. "
         "The quickest of the five."),
    _net("mobilenet_v2", "MobileNetV2", "MobileNetV2", "mobilenet_v2", "tf",
         "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5", "mobilenet_v2/", None, 3_538_984, 2018,
         "Inverted residual blocks: widen with a pointwise (1×1) convolution, filter each channel alone with a "
         "depthwise one, narrow again."),
    Network("efficientnet_b0", "EfficientNetB0", "EfficientNetB0", "efficientnet", "raw", "efficientnetb0.h5",
            "https://storage.googleapis.com/keras-applications/efficientnetb0.h5", "902e53a9f72be733fc0bcb005b3ebbac",
            5_330_571, 2019,
            "MobileNetV2's blocks, with depth, width and resolution scaled together; the most accurate of the five "
            "for its size."),
    _net("resnet50", "ResNet50", "ResNet50", "resnet50", "caffe", "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
         "resnet/", "2cb95161c43110f7111970584f804107", 25_636_712, 2015,
         "50 layers deep thanks to shortcuts: each block adds its input to what it computes, so it only has to "
         "learn the difference."),
    _net("vgg16", "VGG16", "VGG16", "vgg16", "caffe", "vgg16_weights_tf_dim_ordering_tf_kernels.h5", "vgg16/",
         "64373286793e3c8b2b4e3219cbf3544b", 138_357_544, 2014,
         "Plain 3×3 convolutions and max pooling, 13 of them, then three dense layers: the simplest to read, "
         "and by far the heaviest (528 MB)."),
)}
DEFAULT_NETWORK = "mobilenet_v3_small"


class NetworkError(ValueError):
    """A network that cannot be used as asked; the message says why and what to do."""


@lru_cache(maxsize=1)
def imagenet_classes() -> tuple[tuple[str, str, str], ...]:
    """ImageNet's 1,000 classes in the networks' output order: (WordNet id, short name, every name)."""
    rows = json.loads(CLASSES_FILE.read_text(encoding="utf-8"))["classes"]
    if len(rows) != 1000:
        raise NetworkError(f"Expected 1000 ImageNet classes in {CLASSES_FILE.name}. Received: {len(rows)}")
    return tuple((str(a), str(b), str(c)) for a, b, c in rows)


def imagenet_class_names() -> list[str]:
    """The short, unique names of ImageNet's classes, in output order (281: ``tabby``)."""
    return [name for _, name, _ in imagenet_classes()]


def preprocess_array(images: np.ndarray, mode: str) -> np.ndarray:
    """NumPy twin of the ``imagenet_preprocessing`` layer: images in [0, 1] (..., 3) to the family's input."""
    x = np.asarray(images, dtype=np.float32) * 255.0
    if mode == "raw":
        return x
    if mode == "tf":
        return x / 127.5 - 1.0
    if mode == "caffe":
        return x[..., ::-1] - np.asarray(CAFFE_MEAN_BGR, dtype=np.float32)
    raise NetworkError(f"Expected a preprocessing mode among {MODES}. Received: {mode!r}")


_LAYER_CLASS = None


def preprocessing_layer_class():
    """The Keras layer class of ``imagenet_preprocessing``, registered for saving as ``cnnlab>ImageNetPreprocessing``.

    Defined on first use, so that importing this module does not import TensorFlow.
    """
    global _LAYER_CLASS
    if _LAYER_CLASS is None:
        import keras

        @keras.saving.register_keras_serializable(package="cnnlab")
        class ImageNetPreprocessing(keras.layers.Layer):
            """An image in [0, 1] to what an ImageNet family was trained on; no weights."""

            def __init__(self, mode: str = "raw", **kwargs):
                super().__init__(**kwargs)
                if mode not in MODES:
                    raise NetworkError(f"Expected a preprocessing mode among {MODES}. Received: {mode!r}")
                self.mode = mode

            def call(self, x):
                x = keras.ops.multiply(keras.ops.cast(x, self.compute_dtype), 255.0)
                if self.mode == "tf":
                    return x / 127.5 - 1.0
                if self.mode == "caffe":
                    return keras.ops.flip(x, axis=-1) - keras.ops.convert_to_tensor(CAFFE_MEAN_BGR, self.compute_dtype)
                return x

            def compute_output_shape(self, input_shape):
                return input_shape

            def get_config(self):
                return {**super().get_config(), "mode": self.mode}

        _LAYER_CLASS = ImageNetPreprocessing
    return _LAYER_CLASS


# keras.applications builds a network's ImageNet graph only when asked for weights="imagenet" (EfficientNet
# then adds a layer that rescales by ImageNet's standard deviation), and then fetches the file with
# ``file_utils.get_file``. The file here is checked already (core.models.imagenet_weights), so for the time of
# one build that call is answered with it; any other file still goes to Keras. One build at a time.
_BUILD_LOCK = threading.Lock()


@contextlib.contextmanager
def _keras_reads(file_name: str, path: Path):
    from keras.src.utils import file_utils

    real = file_utils.get_file

    def get_file(fname=None, origin=None, *args, **kwargs):
        if fname == file_name:
            return str(path)
        return real(fname, origin, *args, **kwargs)

    with _BUILD_LOCK:
        file_utils.get_file = get_file
        try:
            yield
        finally:
            file_utils.get_file = real


def build_network(net: Network, weights_path: str | Path | None, tensor=None):
    """The network as CNN Lab shows it: ``imagenet_preprocessing``, then ``keras.applications``' own layers.

    Args:
        net: one of ``NETWORKS``.
        weights_path: Keras's ImageNet weights file for it, already checked
            (``core.models.imagenet_weights.fetch_weights`` or ``import_weights``); None builds it with
            random weights (its graph is then Keras's ``weights=None`` one).
        tensor: the 224×224×3 tensor to build the network on (made from a transfer model's input by its
            resizing; the network's inputs are then that model's); by default a new input named ``image``.

    Raises:
        NetworkError: the file does not fit the network (another network's, or cut short).
    """
    import keras

    with _fresh_names():
        if tensor is None:
            tensor = keras.Input(shape=INPUT_SHAPE, name="image")
        x = preprocessing_layer_class()(net.mode, name=PREPROCESSING_LAYER)(tensor)
        builder = getattr(keras.applications, net.builder)
        if weights_path is None:
            return builder(weights=None, input_tensor=x, classes=1000)
        try:
            with _keras_reads(net.file_name, Path(weights_path)):
                return builder(weights="imagenet", input_tensor=x)
        except (ValueError, OSError, KeyError) as exc:
            raise NetworkError(f"The weights file {Path(weights_path).name} does not fit {net.title}: {exc}") from exc


@contextlib.contextmanager
def _fresh_names():
    """Build with Keras's automatic layer names counted from zero, as in a new process (``activation_17`` is then
    always the same layer of MobileNetV3Small), whatever this thread built before; the counts are put back after."""
    from keras.src.backend.common import global_state

    saved = global_state.get_global_attribute("object_name_uids")
    global_state.set_global_attribute("object_name_uids", collections.defaultdict(int))
    try:
        yield
    finally:
        global_state.set_global_attribute("object_name_uids", saved)


def check_memory(net: Network, loaded: list[Network], limit: int) -> None:
    """Raise ``NetworkError`` when ``net``'s weights, added to those of the networks ``loaded`` already, would
    take more than ``limit`` bytes (``core.settings.Limits.max_imagenet_bytes``)."""
    from core.settings import human_bytes

    others = [n for n in loaded if n.key != net.key]
    used = sum(n.weight_bytes for n in others)
    if used + net.weight_bytes <= limit:
        return
    with_others = f", with {', '.join(n.title for n in others)} loaded ({human_bytes(used)})," if others else ""
    raise NetworkError(
        f"{net.title} needs {human_bytes(net.weight_bytes)} of memory for its weights{with_others} and this server "
        f"allows {human_bytes(limit)} for ImageNet networks (CNNLAB_MAX_IMAGENET_BYTES). "
        + (f"Pick a smaller network (MobileNetV3Small needs {human_bytes(NETWORKS[DEFAULT_NETWORK].weight_bytes)}), "
           "or ask" if net.key != DEFAULT_NETWORK else "Ask") + " the teacher to raise the limit.")


def feature_layer(model) -> str:
    """The layer whose output is the network's pooled features: its global pooling (VGG16: ``fc2``)."""
    import keras

    pools = [layer.name for layer in model.layers if isinstance(layer, keras.layers.GlobalAveragePooling2D)]
    if pools:
        return pools[-1]
    dense = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if len(dense) >= 2:
        return dense[-2]
    raise NetworkError(f"Expected a global pooling or two dense layers in {model.name}. Received neither")


def last_conv_maps(model) -> str:
    """The last layer with spatial maps before the features: where Grad-CAM looks (the last block's output;
    VGG16: its last convolution, before the pooling halves its 14×14 maps)."""
    import keras

    names = [layer.name for layer in model.layers]
    end = names.index(feature_layer(model))
    for layer in reversed(model.layers[:end]):
        shape = layer.output.shape
        if len(shape) == 4 and shape[1] is not None and shape[1] > 1 and \
                not isinstance(layer, (keras.layers.Flatten, keras.layers.Dropout, keras.layers.MaxPooling2D)):
            return layer.name
    raise NetworkError(f"Expected a layer with maps before {names[end]!r} in {model.name}. Received none")
