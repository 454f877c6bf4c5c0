"""core.models.size_limits: one sentence per limit gone over, with the figure, the limit and its variable."""

from __future__ import annotations

import pytest

from core.models.size_limits import ModelSize, count, limit_problems, max_output_size, params_summary


def size(**changes) -> ModelSize:
    figures = dict(params=1000, input_shapes=((32, 32, 3),), layers=5, largest_output=("conv1", (32, 32, 16)),
                   widest_dense=("dense1", 64), blocks=2)
    return ModelSize(**{**figures, **changes})


def test_a_small_model_fits():
    assert limit_problems(size()) == []


# (changes just under or at the limit, changes just over it, words the sentence must hold, its variable)
LIMITS = [
    (dict(params=10_000_000), dict(params=10_000_001), "10,000,001 parameters", "CNNLAB_MAX_PARAMS"),
    (dict(input_shapes=((256, 256, 3),)), dict(input_shapes=((256, 257, 3),)), "256×257 pixels",
     "CNNLAB_MAX_INPUT_SIDE"),
    (dict(widest_dense=("d", 4096)), dict(widest_dense=("d", 4097)), "'d' has 4,097 units", "CNNLAB_MAX_DENSE_UNITS"),
    (dict(blocks=8), dict(blocks=9), "9 convolution blocks", "CNNLAB_MAX_BLOCKS"),
    (dict(layers=400), dict(layers=401), "401 layers", "CNNLAB_MAX_LAYERS"),
    (dict(largest_output=("c", (256, 256, 64))), dict(largest_output=("c", (256, 256, 65))),
     "'c' outputs 256×256×65 = 4.3 M numbers", "CNNLAB_MAX_INPUT_SIDE"),
]


@pytest.mark.parametrize("under, over, words, variable", LIMITS, ids=[v for *_, v in LIMITS])
def test_each_limit_refuses_just_over_it(under, over, words, variable):
    assert limit_problems(size(**under)) == []
    (problem,) = limit_problems(size(**over))
    assert words in problem and variable in problem, problem


@pytest.mark.parametrize("variable, value, under, over", [
    ("CNNLAB_MAX_PARAMS", "2000", dict(params=2000), dict(params=2001)),
    ("CNNLAB_MAX_INPUT_SIDE", "28", dict(input_shapes=((28, 28, 1),), largest_output=("c", (28, 28, 16))),
     dict(input_shapes=((32, 28, 1),), largest_output=("c", (28, 28, 16)))),
    ("CNNLAB_MAX_DENSE_UNITS", "100", dict(widest_dense=("d", 100)), dict(widest_dense=("d", 101))),
    ("CNNLAB_MAX_BLOCKS", "2", dict(blocks=2), dict(blocks=3)),
    ("CNNLAB_MAX_LAYERS", "5", dict(layers=5), dict(layers=6)),
])
def test_a_teacher_moves_each_limit_with_its_variable(monkeypatch, variable, value, under, over):
    assert limit_problems(size(**under)) == []
    monkeypatch.setenv(variable, value)
    assert limit_problems(size(**under)) == []
    (problem,) = limit_problems(size(**over))
    assert variable in problem and f"the limit is {int(value):,}" in problem


def test_the_largest_output_allowed_grows_with_the_image_size_limit(monkeypatch):
    assert max_output_size() == 256 * 256 * 64
    monkeypatch.setenv("CNNLAB_MAX_INPUT_SIDE", "512")
    assert max_output_size() == 512 * 512 * 64
    assert limit_problems(size(largest_output=("c", (256, 256, 65)))) == []


def test_every_limit_gone_over_is_named():
    problems = limit_problems(size(params=10**9, input_shapes=((20000, 20000, 3),), widest_dense=("d", 10**8),
                                   largest_output=("image", (20000, 20000, 3)), blocks=9, layers=500))
    assert len(problems) == 6


@pytest.mark.parametrize("n, text", [(0, "0"), (4096, "4,096"), (999_999, "999,999"), (1_000_000, "1 M"),
                                     (1_234_567, "1.2 M"), (10_000_000, "10 M"), (12_800_000_000, "12.8 G")])
def test_counts_read_as_a_person_reads_them(n, text):
    assert count(n) == text


def test_the_editor_summary(monkeypatch):
    assert params_summary(size(params=1_234_567)) == "1.2 M parameters of at most 10 M"
    monkeypatch.setenv("CNNLAB_MAX_PARAMS", "2000000")
    assert params_summary(size(params=47_428)) == "47,428 parameters of at most 2 M"
