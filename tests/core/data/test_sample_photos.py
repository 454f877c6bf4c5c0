"""core.data.sample_photos: the photos the ImageNet networks' pages offer, and the classes a right answer names."""

import numpy as np
import pytest

from core.data.sample_photos import SAMPLE_PHOTOS, load_sample_photo
from core.models.imagenet import imagenet_class_names


@pytest.mark.parametrize("key", list(SAMPLE_PHOTOS))
def test_each_sample_photo_is_an_rgb_photo_and_names_real_imagenet_classes(key):
    photo = load_sample_photo(key)
    assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3 and max(photo.shape[:2]) == 320
    assert photo.std() > 20  # a photo, not a blank
    assert set(SAMPLE_PHOTOS[key].expected) <= set(imagenet_class_names())


def test_an_unknown_sample_photo_is_refused_with_the_list():
    with pytest.raises(KeyError, match="Expected a sample photo among"):
        load_sample_photo("dog")
