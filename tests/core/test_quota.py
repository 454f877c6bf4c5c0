"""core.quota: what a user's folder takes, and the room left by their quota and the server's disk."""

from __future__ import annotations

import os
import shutil
from collections import namedtuple

import pytest

import core.quota
from core.quota import QuotaError, check_room, folder_bytes, room_left, usage

DiskUsage = namedtuple("DiskUsage", "total used free")
MB = 2**20


def fill(path, n_bytes: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(n_bytes))


@pytest.fixture
def disk(monkeypatch):
    """The disk's free space, as the test sets it (``disk.free = ...``)."""
    class Disk:
        free = 100 * 2**30

    monkeypatch.setattr(core.quota.shutil, "disk_usage", lambda path: DiskUsage(200 * 2**30, 0, Disk.free))
    return Disk


def test_folder_bytes_counts_files_in_every_sub_folder(tmp_path):
    fill(tmp_path / "a" / "x.bin", 300_000)
    fill(tmp_path / "a" / "b" / "c" / "y.bin", 200_000)
    assert folder_bytes(tmp_path) >= 500_000
    # at least the sizes, at most the blocks they fill (4 KB each at most over)
    assert folder_bytes(tmp_path) <= 500_000 + 2 * 8192
    assert folder_bytes(tmp_path / "missing") == 0


def test_hard_links_are_counted_once_and_symlinks_not_followed(tmp_path):
    fill(tmp_path / "user" / "photo.jpg", 1 * MB)
    alone = folder_bytes(tmp_path / "user")
    (tmp_path / "user" / "runs").mkdir()
    os.link(tmp_path / "user" / "photo.jpg", tmp_path / "user" / "runs" / "photo.jpg")  # as My classes' snapshots
    fill(tmp_path / "elsewhere" / "big.bin", 5 * MB)
    os.symlink(tmp_path / "elsewhere", tmp_path / "user" / "link")
    os.symlink(tmp_path / "elsewhere" / "big.bin", tmp_path / "user" / "big_link.bin")
    assert folder_bytes(tmp_path / "user") == alone


def test_the_walk_is_bounded(tmp_path):
    for i in range(30):
        (tmp_path / f"{i}.txt").write_text("x")
    assert folder_bytes(tmp_path, max_entries=30) > 0
    with pytest.raises(QuotaError, match="at most 29 files"):
        folder_bytes(tmp_path, max_entries=29)


def test_room_left_is_the_smaller_of_quota_and_disk(tmp_path, monkeypatch, disk):
    fill(tmp_path / "u" / "a.bin", 3 * MB)
    used = folder_bytes(tmp_path / "u")
    monkeypatch.setenv("CNNLAB_USER_QUOTA", "10M")
    monkeypatch.setenv("CNNLAB_FREE_SPACE_FLOOR", "1G")
    assert room_left(tmp_path / "u") == 10 * MB - used  # the quota binds
    disk.free = 2**30 + 2 * MB
    assert room_left(tmp_path / "u") == 2 * MB  # the disk binds
    disk.free = 2**30 - 1
    assert room_left(tmp_path / "u") == 0  # never negative
    assert usage(tmp_path / "u").used == used


def test_room_left_for_a_folder_not_made_yet(tmp_path, monkeypatch, disk):
    monkeypatch.setenv("CNNLAB_USER_QUOTA", "10M")
    assert room_left(tmp_path / "new" / "user") == 10 * MB


def test_check_room_says_what_is_used_the_quota_and_what_to_delete(tmp_path, monkeypatch, disk):
    fill(tmp_path / "u" / "a.bin", 6 * MB)
    used = folder_bytes(tmp_path / "u")
    monkeypatch.setenv("CNNLAB_USER_QUOTA", "10M")
    check_room(tmp_path / "u", 10 * MB - used)  # just fits
    with pytest.raises(QuotaError) as info:
        check_room(tmp_path / "u", 10 * MB - used + 1)
    text = str(info.value)
    assert "Expected at most 10 MB in your workspace (your quota)" in text
    assert "with 6.0 MB used already" in text and "Delete uploads" in text
    assert isinstance(info.value, ValueError)


def test_check_room_on_a_nearly_full_disk_says_to_tell_the_teacher(tmp_path, monkeypatch, disk):
    monkeypatch.setenv("CNNLAB_FREE_SPACE_FLOOR", "1G")
    disk.free = 2**30 + 5 * MB
    check_room(tmp_path, 5 * MB)
    with pytest.raises(QuotaError, match="disk is nearly full.*Tell the teacher"):
        check_room(tmp_path, 5 * MB + 1)


def test_real_disk_usage_is_read(tmp_path):
    free = shutil.disk_usage(tmp_path).free
    assert abs(usage(tmp_path).free - free) < 512 * MB
