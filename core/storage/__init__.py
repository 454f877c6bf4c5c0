"""Saved models: files written so that a crash never leaves half of one, and the folder that lists them.

- ``files``: ``NAME.keras`` plus ``NAME.json``, each written to a temporary file and renamed.
- ``registry``: the models folder: list, save, load, rename, delete, import an upload.
- ``checks``: does a model fit a dataset, is an uploaded file acceptable.
- ``replay``: a run's filter and feature-map snapshots beside its model.
"""
