"""Architectures: what a CNN is made of, and the well-known ones ready to train.

- ``architecture``: ``ModelSpec`` (conv blocks and a dense head, as plain data) and
  ``build_model``, which fits a spec to a dataset's input shape and classes; the layer table
  the Train page shows.
- ``presets``: Small CNN, TinyVGG, LeNet-5, the Keras MNIST convnet, the course face CNN and the
  fast recipes' networks, each as a ``ModelSpec``.
"""
