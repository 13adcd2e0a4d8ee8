"""Atomic small-file writes: a crash never leaves a half-written file under its real name."""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path


def make_dirs(folder: Path, mode: int = 0o700) -> list[Path]:
    """Create `folder` and its missing parents (`mode`, owner-only by default: every folder
    this service makes is its own); the folders that got a new entry.

    A new folder's name lives in its parent: fsync those (`fsync_dir`) as well as the folder
    that holds a new file, or a power cut can lose the folder and the file with it.
    """
    missing = []
    while not folder.is_dir():  # the common case: one stat, nothing missing
        missing.append(folder)
        folder = folder.parent
    changed = []
    for level in reversed(missing):
        try:
            os.mkdir(level, mode)
        except FileExistsError:  # made meanwhile by another thread or process
            continue
        changed.append(level.parent)
    return changed


def fsync_dir(folder: Path) -> None:
    """fsync a folder, so the names created or renamed in it survive a power cut."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def syncfs_reports_errors(kernel_release: str) -> bool:
    """Whether Linux `syncfs(2)` reports write-back errors on this kernel (5.8 and later;
    before, it could return 0 after losing data)."""
    try:
        major, minor = (int(part) for part in kernel_release.split("-")[0].split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (5, 8)


def _find_syncfs() -> Callable[[int], int] | None:
    if sys.platform != "linux" or not syncfs_reports_errors(platform.release()):
        return None
    return getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)


_SYNCFS = _find_syncfs()


def sync_filesystem(fd: int) -> bool:
    """Flush every pending write on the file system holding the open file `fd`
    (`syncfs(2)`); False, doing nothing, where that is not available with error reporting
    (the caller then fsyncs file by file).

    It reports any write-back error on that file system since `fd` was opened (or last
    synced), so open `fd` before writing what must be flushed. One device flush covers a
    whole batch of new files and names, where an fsync per file and per folder pays a flush
    each: 16 of them for 8 small publishes. It also flushes whatever else is pending on that
    file system, so give the blob store its own volume.
    """
    if _SYNCFS is None:
        return False
    if _SYNCFS(fd) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"syncfs: {os.strerror(code)}")
    return True


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o600) -> Path:
    """Write `data` to `path` through a temp file in the same folder, fsync, then rename.

    The file is created with `mode` from the start (never briefly world-readable), and the
    folder (and any folder made for it) is fsynced after the rename so the new name survives
    a power cut.
    """
    target = Path(path)
    created = make_dirs(target.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    for folder in (target.parent, *created):
        fsync_dir(folder)
    return target
