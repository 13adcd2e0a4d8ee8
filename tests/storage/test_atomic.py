"""Atomic small-file writes: whole files under their names, folders synced, nothing left over."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import pytest

from notary.storage import atomic
from notary.storage.atomic import (
    atomic_write_bytes,
    make_dirs,
    sync_filesystem,
    syncfs_reports_errors,
)


def test_written_whole_with_its_mode_and_no_temp_file(tmp_path: Path) -> None:
    target = atomic_write_bytes(tmp_path / "key.json", b"secret", mode=0o600)
    assert target.read_bytes() == b"secret"
    assert target.stat().st_mode & 0o777 == 0o600
    atomic_write_bytes(target, b"replaced", mode=0o644)
    assert target.read_bytes() == b"replaced" and target.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["key.json"]


def test_new_folders_are_synced_into_their_parents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[Path] = []
    real = atomic.fsync_dir
    monkeypatch.setattr(atomic, "fsync_dir", lambda d: (synced.append(d), real(d)))
    atomic_write_bytes(tmp_path / "a" / "b" / "f", b"x")
    assert sorted(synced) == sorted([tmp_path / "a" / "b", tmp_path / "a", tmp_path])
    synced.clear()
    atomic_write_bytes(tmp_path / "a" / "b" / "g", b"y")  # the folders exist now
    assert synced == [tmp_path / "a" / "b"]


def test_make_dirs_reports_only_what_it_made(tmp_path: Path) -> None:
    assert make_dirs(tmp_path) == []
    assert make_dirs(tmp_path / "x" / "y") == [tmp_path, tmp_path / "x"]
    assert make_dirs(tmp_path / "x" / "y") == []


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = atomic_write_bytes(tmp_path / "state.json", b"old")

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "I/O error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


@pytest.mark.parametrize(
    ("release", "reports"),
    [
        ("6.18.44-fc-v669", True),
        ("5.8.0", True),
        ("5.10.0-28-amd64", True),
        ("5.4.0-150", False),
        ("4.18.0-553.el8_10.x86_64", False),
        ("", False),
        ("garbled", False),
    ],
)
def test_syncfs_is_trusted_from_linux_5_8(release: str, reports: bool) -> None:
    assert syncfs_reports_errors(release) is reports


def test_sync_filesystem_flushes_where_syncfs_reports_errors(tmp_path: Path) -> None:
    usable = sys.platform == "linux" and syncfs_reports_errors(platform.release())
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        assert sync_filesystem(fd) is usable
    finally:
        os.close(fd)
    if usable:
        with pytest.raises(OSError, match="Bad file descriptor"):
            sync_filesystem(fd)  # closed: the error is raised, not ignored
