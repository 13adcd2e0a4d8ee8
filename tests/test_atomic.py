"""Atomic small-file writes: whole files under their names, folders synced, nothing left over."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from notary import atomic
from notary.atomic import atomic_write_bytes, make_dirs


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
