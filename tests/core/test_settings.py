"""The server's mode and limits, read from the environment (core.settings)."""

import pytest

from core.settings import Limits, SettingsError, classroom, folder_roots, human_bytes, human_time, inside, limits, mode


def test_defaults_without_any_variable(monkeypatch):
    for name in list(__import__("os").environ):
        if name.startswith("CNNLAB_"):
            monkeypatch.delenv(name)
    assert limits() == Limits()
    assert mode() == "personal" and not classroom()
    assert folder_roots() == []


def test_sizes_and_times_take_units(monkeypatch):
    monkeypatch.setenv("CNNLAB_USER_QUOTA", "500M")
    monkeypatch.setenv("CNNLAB_MAX_UNPACKED_BYTES", "2G")
    monkeypatch.setenv("CNNLAB_JOB_MAX_TIME", "20min")
    monkeypatch.setenv("CNNLAB_JOB_PAUSED_MAX_TIME", "1h")
    monkeypatch.setenv("CNNLAB_MAX_PARAMS", "2_000_000")
    monkeypatch.setenv("CNNLAB_MAX_ZIP_FILES", "20K")
    got = limits()
    assert got.user_quota == 500 * 2**20
    assert got.max_unpacked_bytes == 2 * 2**30
    assert got.job_max_time == 1200.0 and got.job_paused_max_time == 3600.0
    assert got.max_params == 2_000_000 and got.max_zip_files == 20_000
    monkeypatch.setenv("CNNLAB_MAX_PARAMS", "20M")
    assert limits().max_params == 20_000_000


@pytest.mark.parametrize("var, value, expected", [
    ("CNNLAB_MAX_PARAMS", "many", "whole number"),
    ("CNNLAB_USER_QUOTA", "5 parsecs", "a size"),
    ("CNNLAB_JOB_ORPHAN_TIME", "soon", "a time"),
])
def test_an_unreadable_value_names_its_variable(monkeypatch, var, value, expected):
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError, match=var) as info:
        limits()
    assert expected in str(info.value)


def test_mode_is_personal_or_classroom(monkeypatch):
    monkeypatch.setenv("CNNLAB_MODE", "Classroom")
    assert classroom()
    monkeypatch.setenv("CNNLAB_MODE", "party")
    with pytest.raises(SettingsError, match="CNNLAB_MODE"):
        mode()


def test_folder_roots_and_inside_follow_links(monkeypatch, tmp_path):
    allowed, other = tmp_path / "photos", tmp_path / "private"
    (allowed / "cats").mkdir(parents=True)
    other.mkdir()
    (allowed / "escape").symlink_to(other)
    monkeypatch.setenv("CNNLAB_FOLDER_ROOTS", f"{allowed}:{tmp_path / 'more'}")
    assert folder_roots() == [allowed.resolve(), (tmp_path / "more").resolve()]
    assert inside(allowed / "cats", allowed)
    assert not inside(allowed / "escape", allowed)  # a link out of the root is outside it
    assert not inside(allowed / ".." / "private", allowed)


def test_human_figures():
    assert human_bytes(1.5 * 2**30) == "1.5 GB"
    assert human_bytes(300 * 2**20) == "300 MB"
    assert human_bytes(12) == "12 bytes"
    assert human_time(900) == "15 min" and human_time(3600) == "1 h" and human_time(45) == "45 s"
