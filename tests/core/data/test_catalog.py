"""core.data.catalog: datasets by name, and a DatasetError for an unknown name or options a loader does not take."""

from __future__ import annotations

import pytest

from core.data import DATASETS, DEFAULT_DATASET, DatasetError, load_dataset
from dataset_files import make_class_tree


def test_unknown_dataset_name_raises():
    with pytest.raises(DatasetError, match="no_such_dataset"):
        load_dataset("no_such_dataset")


BAD_OPTIONS = {
    "shapes_unknown_option": ("shapes", {"bogus": 1}),
    "digits_given_a_folder": ("digits", {"folder": "/tmp"}),
    "folder_unknown_option": ("folder", {"path": "/tmp", "bogus": 2}),
    "shapes_negative_count": ("shapes", {"n_train": -5}),
    "folder_zero_image_size": ("folder", {"path": "FOLDER", "image_size": 0}),
}


@pytest.mark.parametrize("case", list(BAD_OPTIONS))
def test_bad_options_raise_dataset_error(tmp_path, case):
    # load_dataset's contract: "DatasetError: unknown name, bad options or unreadable files".
    # A TypeError or ZeroDivisionError from deep inside a loader is not a message for the user.
    name, options = BAD_OPTIONS[case]
    if options.get("path") == "FOLDER":
        make_class_tree(tmp_path, classes=("a", "b"), per_class=3)
        options = {**options, "path": str(tmp_path)}
    with pytest.raises(DatasetError):
        load_dataset(name, options)


def test_the_catalog_names_every_dataset_once_and_the_default_is_offline():
    assert all(info.name == key for key, info in DATASETS.items())
    assert DATASETS[DEFAULT_DATASET].offline and not DATASETS[DEFAULT_DATASET].needs_folder
    assert [k for k, info in DATASETS.items() if info.needs_folder] == ["folder"]


def test_empty_options_are_left_out_before_the_loader_sees_them():
    # a form's blank fields ("" or None) mean "the loader's default", not an unknown value
    ds = load_dataset("shapes", {"n_train": 8, "n_test": 4, "size": None, "seed": ""})
    assert ds.options == {"n_train": 8, "n_test": 4, "size": 32, "seed": 0}
