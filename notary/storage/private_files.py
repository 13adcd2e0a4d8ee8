"""What the service keeps on disk is its owner's alone (docs/operations.md, "Files at rest").

Every entry point (the API app factory, `scripts/run_local.py`, `python -m notary.cli.worker`,
the `notary` CLI) calls `restrict_umask` before it creates anything, so files made by
libraries we do not control (SQLite's `-wal`/`-shm`, anvil's state file, logs) are private
too. The modes below are also set explicitly where this code creates a file or folder, so
a caller that forgot the umask still gets them:

| what                              | mode   |
| --------------------------------- | ------ |
| data dir, blob dir, their folders | `0700` |
| every file (settings, keystores, SQLite database and its `-wal`/`-shm`) | `0600` |
| blobs (content-addressed, never rewritten) | `0400` |

A data or blob dir that exists with looser bits is tightened to `0700` when the service
starts; one owned by another user is refused whatever its mode (`InsecurePath`): its owner
could read, rename or replace everything in it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from notary.errors import InvalidInput, Unauthorised

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600
BLOB_MODE = 0o400
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
"""The files SQLite keeps beside a database (they hold its recent pages in clear)."""


class InsecurePath(Unauthorised):
    """A file or folder others can read, which this process cannot make private."""


class NotADirectory(InvalidInput):
    """A data or blob dir path (or one of its parents) that is a file."""


def restrict_umask() -> int:
    """Make every file and folder this process creates from now on owner-only; the old umask."""
    return os.umask(PRIVATE_UMASK)


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Create `path` (and missing parents) with mode 0700, or tighten an existing one.

    Missing parents are made 0700 as well (they are the service's own). An existing folder
    with group or other bits is chmodded to 0700. One this user does not own is refused,
    unchanged, with `InsecurePath` (even at 0700: its owner can read and replace what it
    holds). A path (or parent) that is a file raises `NotADirectory`.
    """
    folder = Path(path)
    missing = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for level in reversed(missing):
        try:
            os.mkdir(level, DIR_MODE)  # the umask only ever removes bits: at most 0700
        except FileExistsError:  # made meanwhile by another process
            pass
        except NotADirectoryError:
            raise NotADirectory(f"cannot make {folder}: {level.parent} is a file") from None
    st = folder.stat()
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectory(f"{folder} is not a directory")
    if st.st_uid != os.geteuid():
        raise InsecurePath(
            f"{folder} is owned by uid {st.st_uid}, not this user (uid {os.geteuid()}): its "
            "owner could read or replace everything in it; use a folder of your own"
        )
    if st.st_mode & 0o077:
        _tighten(folder, st, DIR_MODE)
    return folder


def private_file(path: str | os.PathLike[str]) -> bool:
    """Remove group and other bits from an existing file; False if it does not exist."""
    target = Path(path)
    try:
        st = target.stat()
    except FileNotFoundError:
        return False
    if st.st_mode & 0o077:
        _tighten(target, st, stat.S_IMODE(st.st_mode) & 0o700)
    return True


def private_sqlite_file(database: str | os.PathLike[str]) -> None:
    """Create a SQLite database file 0600 if missing, and tighten it and its side files.

    SQLite creates its `-wal` and `-shm` files with the database file's own mode, so a
    0600 database keeps them 0600 whatever the umask.
    """
    target = Path(database)
    try:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        pass
    except OSError:  # a folder we may not write: SQLite says so, as unavailable, on connect
        return
    for suffix in ("", *SQLITE_SIDE_FILES):
        private_file(f"{target}{suffix}")


def _tighten(path: Path, st: os.stat_result, mode: int) -> None:
    """chmod `path` to `mode`, or refuse clearly when this user may not."""
    shown = f"{stat.S_IMODE(st.st_mode):o}"
    if st.st_uid != os.geteuid():
        raise InsecurePath(
            f"{path} is readable by other users (mode {shown}) and owned by uid {st.st_uid}, "
            f"not this user: it cannot be made private; use a path of your own"
        )
    try:
        os.chmod(path, mode)
    except PermissionError:
        raise InsecurePath(
            f"{path} is readable by other users (mode {shown}) and cannot be made private; "
            f"run: chmod {mode:o} {path}"
        ) from None
