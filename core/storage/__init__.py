"""Saved models: files written so that a crash never leaves half of one, and the folder that lists them.

- ``files``: ``NAME.keras`` plus ``NAME.json``, each written to a temporary file and renamed.
- ``registry``: the models folder: list, save, load, rename, delete, import an upload.
- ``checks``: does a model fit a dataset, is an uploaded file acceptable.
- ``model_limits``: a ``.keras`` file over the server's limits, refused from its config.json alone.
- ``model_config``: the figures of the model a Keras 3 config describes, with no layer built.
- ``replay``: a run's filter and feature-map snapshots beside its model.
"""
