"""Well-known CNN architectures as ``ModelSpec`` presets.

Each preset is faithful to its source, up to the adaptations ``build_model``
makes for inputs that are too small for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.models.architecture import ConvBlock, ModelSpec


@dataclass(frozen=True)
class Preset:
    key: str
    title: str
    source: str  # where the architecture comes from
    description: str

    def spec(self) -> ModelSpec:
        return PRESET_SPECS[self.key]()


def keras_mnist_convnet() -> ModelSpec:
    # keras-io examples/vision/mnist_convnet.py
    return ModelSpec(
        name="keras_mnist_convnet",
        blocks=[ConvBlock(32, 3, padding="valid"), ConvBlock(64, 3, padding="valid")],
        dense_units=[], flatten_dropout=0.5,
    )


def lenet5() -> ModelSpec:
    # LeCun et al. 1998: tanh activations and average ("subsampling") pooling.
    return ModelSpec(
        name="lenet5",
        blocks=[ConvBlock(6, 5, activation="tanh", padding="same", pooling="avg"),
                ConvBlock(16, 5, activation="tanh", padding="valid", pooling="avg")],
        dense_units=[120, 84], dense_activation="tanh",
    )


def tinyvgg() -> ModelSpec:
    # CNN Explainer's TinyVGG (Wang et al. 2020): two blocks of two 3x3 convs with 10 filters.
    return ModelSpec(
        name="tinyvgg",
        blocks=[ConvBlock(10, 3, convs=2, padding="valid"), ConvBlock(10, 3, convs=2, padding="valid")],
        dense_units=[],
    )


def face_cnn() -> ModelSpec:
    # The course project's face-recognition CNN.
    return ModelSpec(
        name="face_cnn",
        blocks=[ConvBlock(32, 3, convs=2, dropout=0.25), ConvBlock(64, 3, convs=2, dropout=0.25),
                ConvBlock(64, 3, convs=2, dropout=0.25)],
        dense_units=[512], dense_dropout=0.5,
    )


def small_cifar() -> ModelSpec:
    # A compact VGG-style net for 32x32 colour photos, with batch norm for fast, stable training.
    return ModelSpec(
        name="small_cifar",
        blocks=[ConvBlock(32, 3, convs=2, batch_norm=True, dropout=0.2),
                ConvBlock(64, 3, convs=2, batch_norm=True, dropout=0.3),
                ConvBlock(128, 3, convs=1, batch_norm=True, dropout=0.4)],
        dense_units=[128], dense_dropout=0.4,
    )


def tf_image_classification() -> ModelSpec:
    # The TensorFlow tutorial "Image classification" (tensorflow.org/tutorials/images/classification), its first
    # model for a folder of flower photos: three padded 3x3 convolutions (16, 32, 64) with max-pools, dense 128.
    return ModelSpec(
        name="tf_image_classification",
        blocks=[ConvBlock(16, 3), ConvBlock(32, 3), ConvBlock(64, 3)],
        dense_units=[128],
    )


def small_cnn() -> ModelSpec:
    # CNN Lab's default: three conv + max-pool blocks, few enough filters to look at each one.
    return ModelSpec(
        name="small_cnn",
        blocks=[ConvBlock(16, 3), ConvBlock(32, 3), ConvBlock(32, 3)],
        dense_units=[64],
    )


# --- fast recipes (core.training.recipes): tuned for a 2-core CPU on validation splits ------------------


def mnist_fast() -> ModelSpec:
    # Half the filters of the keras-io convnet, then dense 128: about twice its images per second.
    return ModelSpec(
        name="mnist_fast",
        blocks=[ConvBlock(16, 3, padding="valid"), ConvBlock(32, 3, padding="valid")],
        dense_units=[128], flatten_dropout=0.2,
    )


def fashion_fast() -> ModelSpec:
    # The MNIST recipe's shape, but the first convolution padded (the 28x28 map keeps its border and the
    # head gets 6x6 maps: fine texture tells a shirt from a T-shirt), 64 filters in the second and a dense
    # 256 head; at batch 256 that costs about 1.4x the 16-32-128 net per epoch and wins on every hold-out.
    # Dropout because clothes overfit sooner than digits.
    return ModelSpec(
        name="fashion_fast",
        blocks=[ConvBlock(16, 3, padding="same"), ConvBlock(64, 3, padding="valid")],
        dense_units=[256], flatten_dropout=0.3,
    )


def faces_fast() -> ModelSpec:
    # Three small blocks for few, large grey photos; dropout because 5 photos a person overfit fast.
    return ModelSpec(
        name="faces_fast",
        blocks=[ConvBlock(16, 3), ConvBlock(32, 3), ConvBlock(64, 3)],
        dense_units=[], flatten_dropout=0.4,
    )


def cifar_fast() -> ModelSpec:
    # One convolution per block and no batch norm: both cost more time than they give back on a CPU.
    return ModelSpec(
        name="cifar_fast",
        blocks=[ConvBlock(32, 3), ConvBlock(64, 3), ConvBlock(128, 3)],
        dense_units=[128], dense_dropout=0.3,
    )


def keras_cifar10_cnn() -> ModelSpec:
    # keras examples/cifar10_cnn.py (Keras 2): two blocks of a padded and an unpadded 3x3 convolution (32, then 64),
    # max-pool and dropout 0.25, then dense 512 with dropout 0.5
    return ModelSpec(
        name="keras_cifar10_cnn",
        blocks=[ConvBlock(32, 3, convs=1, pooling="none"), ConvBlock(32, 3, padding="valid", dropout=0.25),
                ConvBlock(64, 3, convs=1, pooling="none"), ConvBlock(64, 3, padding="valid", dropout=0.25)],
        dense_units=[512], dense_dropout=0.5,
    )


def airbench_layout(name: str, stem: int, widths: tuple[int, ...]) -> ModelSpec:
    """The layout of Keller Jordan's airbench CIFAR-10 networks: a 3x3 stem, then blocks of two 3x3 convolutions
    with batch norm and GELU whose first one is max-pooled at once, and a global max pooling into the softmax.

    Pooling before the batch norm and activation halves a block's work on a CPU; the global pooling keeps the
    head to one weight per channel and class.
    """
    return ModelSpec(
        name=name,
        blocks=[ConvBlock(stem, 3, activation="gelu", batch_norm=True, pooling="none")]
        + [ConvBlock(w, 3, convs=2, activation="gelu", batch_norm=True, pool_early=True) for w in widths],
        dense_units=[], head="global_max",
    )


def cifar_full_fast() -> ModelSpec:
    # airbench94's layout at an eighth of its widths (64/256/256 there): about 560 photos a second on 2 cores
    return airbench_layout("cifar_full_fast", 24, (32, 64, 128))


def photo_net() -> ModelSpec:
    # the shipped photo model: the same layout, twice as wide, trained for longer
    return airbench_layout("photo_net", 32, (64, 128, 256))


PRESET_SPECS = {
    "small_cnn": small_cnn,
    "tinyvgg": tinyvgg,
    "keras_mnist_convnet": keras_mnist_convnet,
    "lenet5": lenet5,
    "face_cnn": face_cnn,
    "small_cifar": small_cifar,
    "tf_image_classification": tf_image_classification,
    "mnist_fast": mnist_fast,
    "fashion_fast": fashion_fast,
    "faces_fast": faces_fast,
    "cifar_fast": cifar_fast,
    "keras_cifar10_cnn": keras_cifar10_cnn,
    "cifar_full_fast": cifar_full_fast,
    "photo_net": photo_net,
}

PRESETS: dict[str, Preset] = {
    "small_cnn": Preset("small_cnn", "Small CNN (CNN Lab default)", "CNN Lab",
                        "Three blocks of one 3x3 convolution (16, 32, 32 filters) and a 2x2 max-pool, then dense 64. "
                        "Trains in under a minute on a laptop CPU."),
    "tinyvgg": Preset("tinyvgg", "TinyVGG (CNN Explainer)", "Wang et al., CNN Explainer, 2020",
                      "Four 3x3 convolutions with 10 filters each and two max-pools: small enough to see every map."),
    "keras_mnist_convnet": Preset("keras_mnist_convnet", "Keras simple MNIST convnet", "keras-io examples/vision/mnist_convnet",
                                  "Two conv + max-pool blocks (32 and 64 filters), dropout 0.5, softmax. ~99% on MNIST."),
    "lenet5": Preset("lenet5", "LeNet-5", "LeCun et al., 1998",
                     "The original CNN: 5x5 convolutions with tanh and average pooling, then dense 120 and 84."),
    "face_cnn": Preset("face_cnn", "Course face CNN", "the university course project on face recognition",
                       "Three blocks of two 3x3 convolutions (32, 64, 64), max-pool and dropout 0.25, then dense 512."),
    "small_cifar": Preset("small_cifar", "Small CIFAR-10 net", "VGG-style, with batch normalisation",
                          "Five 3x3 convolutions (32 to 128 filters) with batch norm and dropout, then dense 128."),
    "tf_image_classification": Preset(
        "tf_image_classification", "TensorFlow image classification tutorial CNN",
        "tensorflow.org/tutorials/images/classification",
        "Three 3x3 convolutions (16, 32, 64 filters) with max-pools, then dense 128: the tutorial's first model for "
        "a folder of flower photos."),
    "mnist_fast": Preset("mnist_fast", "Fast MNIST recipe", "CNN Lab fast recipes (tuned on a 2-core CPU)",
                         "Two valid 3x3 convolutions (16, 32 filters) with max-pools, dense 128: about twice the "
                         "keras-io convnet's speed on a CPU."),
    "fashion_fast": Preset("fashion_fast", "Fast Fashion-MNIST recipe", "CNN Lab fast recipes (tuned on a 2-core CPU)",
                           "Two 3x3 convolutions (16 filters padded, 64 unpadded) with max-pools, dense 256 and dropout 0.3."),
    "faces_fast": Preset("faces_fast", "Fast faces recipe", "CNN Lab fast recipes (tuned on a 2-core CPU)",
                         "Three 3x3 convolutions (16, 32, 64) with max-pools and dropout: for a few photos per person."),
    "cifar_fast": Preset("cifar_fast", "Fast CIFAR-10 recipe", "CNN Lab fast recipes (tuned on a 2-core CPU)",
                         "Three blocks of one 3x3 convolution (32, 64, 128) and a max-pool, dense 128: no batch norm, "
                         "which costs more time than it gives back on a CPU."),
    "keras_cifar10_cnn": Preset(
        "keras_cifar10_cnn", "Keras CIFAR-10 CNN example", "keras examples/cifar10_cnn.py (Keras 2)",
        "Four 3x3 convolutions (32, 32, 64, 64), two max-pools with dropout 0.25, dense 512 with dropout 0.5: "
        "79% on CIFAR-10 after 50 epochs, as published."),
    "cifar_full_fast": Preset(
        "cifar_full_fast", "Fast CIFAR-10 recipe, all 50,000 photos", "the layout of airbench (Keller Jordan, 2024), "
        "narrowed for a CPU", "A 3x3 stem of 24 filters, then three blocks of two 3x3 convolutions (32, 64, 128) with "
        "batch norm and GELU, pooled right after the first, and global max pooling into the softmax."),
    "photo_net": Preset(
        "photo_net", "CNN Lab photo model", "the layout of airbench (Keller Jordan, 2024)",
        "The fast CIFAR-10 layout twice as wide (32, then 64, 128 and 256 filters): the network behind the shipped "
        "photo model."),
}
