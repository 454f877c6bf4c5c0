"""Architectures: what a CNN is made of, and the well-known ones ready to train.

- ``architecture``: ``ModelSpec`` (conv blocks and a dense head, as plain data) and
  ``build_model``, which fits a spec to a dataset's input shape and classes; the layer table
  the Train page shows; ``spec_size``, its figures worked out without building it.
- ``layer_arithmetic``: a Keras layer's output shape and weight count, from its config.
- ``size_limits``: which of the server's limits a model's figures go over, in a learner's words.
- ``presets``: Small CNN, TinyVGG, LeNet-5, the Keras MNIST convnet, the course face CNN and the
  fast recipes' networks, each as a ``ModelSpec``.
"""
