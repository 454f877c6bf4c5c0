"""The Train page's architecture editor against the server's model limits: a network over one is sized, not
built, says which limit, and cannot be trained."""

from __future__ import annotations

import time

from apptest_helpers import open_page


def test_fifty_thousand_dense_units_are_refused_at_once_and_training_stays_off():
    # Before the limits, this built the network to draw its layer table: 39 s, then ResourceExhaustedError.
    at = open_page("pages/train.py")
    assert not at.button(key="train_start").disabled
    assert any("parameters of at most 10 M" in c.value for c in at.caption)
    at.toggle(key="train_custom").set_value(True).run()
    start = time.perf_counter()
    at.text_input(key="train_dense_small_cnn").input("50000").run()
    assert time.perf_counter() - start < 10  # a rerun of the page, no network built
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert "This network is too big for the server" in error and "parameters of at most 10 M" in error
    assert "'dense1' has 50,000 units; the limit is 4,096 units a layer" in error and "CNNLAB_MAX_DENSE_UNITS" in error
    assert len(at.dataframe) == 1  # the block editor
    assert not [m for m in at.markdown if m.value.startswith("| layer |")]  # no layer table: building would need it
    train = at.button(key="train_start")
    assert train.disabled and "too big for the server" in train.help

    at.text_input(key="train_dense_small_cnn").input("64").run()
    assert not at.error and not at.button(key="train_start").disabled


def test_a_teacher_lowering_a_limit_turns_training_off_for_the_presets_over_it(monkeypatch):
    monkeypatch.setenv("CNNLAB_MAX_PARAMS", "1000")
    at = open_page("pages/train.py")
    assert not at.exception
    assert any("the limit is 1,000 (a teacher can change it with CNNLAB_MAX_PARAMS)" in e.value for e in at.error)
    assert at.button(key="train_start").disabled
