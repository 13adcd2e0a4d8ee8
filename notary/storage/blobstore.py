"""Content-addressed file storage: every published file kept on disk under its SHA-256.

Layout: `<root>/ab/cd/<sha256>` (the first two pairs of hex digits fan the files out), and
`<root>/tmp/` for uploads in progress. A file is streamed into `tmp/` (same file system, so
the final rename is atomic), hashed on the way, fsynced, then renamed to its real name and
the directory fsynced (and the directories above it that got a new folder). A crash at any
point leaves at worst an orphan in `tmp/` (removed by `clean_temp`), never a half-written
file under a real name.

Blobs are mode 0400 and every folder of the store 0700 (created so whatever the umask):
only the service's user can read them (see `notary.storage.private_files`).

Names are checked before any path is built: exactly 64 lowercase hex digits, so no name can
climb out of the root. A read-only or full disk raises `StorageUnavailable`.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import re
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from notary.errors import InvalidInput, NotFound, Unavailable
from notary.storage.atomic import fsync_dir, make_dirs, sync_filesystem
from notary.storage.private_files import BLOB_MODE

CHUNK_SIZE = 1 << 20
TEMP_DIR = "tmp"
_NAME = re.compile(r"[0-9a-f]{64}")
_UNAVAILABLE_ERRNOS = frozenset(
    {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EIO}
)


class StorageUnavailable(Unavailable):
    """The blob store cannot be written (read-only or full disk, permissions, I/O error)."""


class BlobTooLarge(InvalidInput):
    """The stream is longer than the allowed maximum."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"file exceeds the maximum size of {limit} bytes")
        self.limit = limit


class InvalidBlobName(InvalidInput):
    """A blob name that is not 64 lowercase hex digits."""


class BlobNotFound(NotFound):
    """No stored file with this SHA-256."""


def check_name(sha256: str) -> str:
    """Return `sha256` if it is a valid blob name (64 lowercase hex), else raise."""
    if not isinstance(sha256, str) or not _NAME.fullmatch(sha256):
        shown = sha256[:80] if isinstance(sha256, str) else type(sha256).__name__
        raise InvalidBlobName(f"not a SHA-256 blob name (64 lowercase hex digits): {shown!r}")
    return sha256


def relative_path(sha256: str) -> str:
    """`ab/cd/<sha256>`: where a blob lives under a store's root (stored in `blobs.path`)."""
    check_name(sha256)
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


class BlobStore:
    """Files on disk named by their SHA-256 (see the module docstring)."""

    def __init__(
        self, root: str | os.PathLike[str], *, max_size: int | None = None, fsync: bool = True
    ) -> None:
        """`max_size` bounds every `put_stream` (None: no bound); `fsync=False` is for tests."""
        self.root = Path(root)
        self.max_size = max_size
        self.fsync = fsync

    # -- reading --------------------------------------------------------------------------

    def relative_path(self, sha256: str) -> str:
        """`ab/cd/<sha256>`: where a blob lives under the root (stored in `blobs.path`)."""
        return relative_path(sha256)

    def path(self, sha256: str) -> Path:
        """The absolute path a blob has (or would have)."""
        return self.root / self.relative_path(sha256)

    def exists(self, sha256: str) -> bool:
        """Whether a blob with this name is stored."""
        return self.path(sha256).is_file()

    def open(self, sha256: str) -> BinaryIO:
        """Open a stored blob for reading (binary); the caller closes it."""
        try:
            return open(self.path(sha256), "rb")
        except FileNotFoundError:
            raise BlobNotFound(f"no stored file {sha256}") from None

    def size(self, sha256: str) -> int:
        """Size in bytes of a stored blob."""
        try:
            return self.path(sha256).stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(f"no stored file {sha256}") from None

    def verify(self, sha256: str) -> bool:
        """Re-hash a stored blob: True if its bytes still match its name.

        A missing blob raises `BlobNotFound` (the audit reports it apart from a changed one).
        """
        digest = hashlib.sha256()
        with self.open(sha256) as f:
            while chunk := f.read(CHUNK_SIZE):
                digest.update(chunk)
        return digest.hexdigest() == sha256

    # -- writing --------------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store bytes already in memory; returns (sha256, size)."""
        return self.put_stream(io.BytesIO(data))

    def put_stream(self, stream: BinaryIO, *, max_size: int | None = None) -> tuple[str, int]:
        """Store everything left in `stream`; returns (sha256, size).

        Raises `BlobTooLarge` as soon as more than `max_size` (or the store's bound) bytes
        arrive, `StorageUnavailable` if the disk refuses; in both cases, and on any error
        the stream raises, nothing is left behind.
        """
        limit = self.max_size if max_size is None else max_size
        tmp_dir = self.root / TEMP_DIR
        tmp_path: str | None = None
        try:
            make_dirs(tmp_dir)  # 0700, the root too if new
            fd, tmp_path = _mkstemp(tmp_dir)
            digest = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK_SIZE):
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise BlobTooLarge(limit)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                if self.fsync:
                    os.fsync(out.fileno())
            sha256 = digest.hexdigest()
            folders = self._place(tmp_path, sha256)
            tmp_path = None
            if self.fsync:
                for folder in folders:
                    fsync_dir(folder)
            return sha256, size
        except OSError as exc:
            if exc.errno in _UNAVAILABLE_ERRNOS:
                raise StorageUnavailable(f"blob store {self.root} is not writable: {exc}") from exc
            raise
        finally:
            if tmp_path is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_path)

    def put_many(self, datas: list[bytes]) -> list[str]:
        """Store several byte strings with two flushes in all; their SHA-256s, in order.

        The same guarantee as `put_bytes` (a name only ever holds its complete bytes) for
        less disk time: every temp file is written and flushed, then all are renamed and
        their names flushed, each round one `sync_filesystem` (or, where that is missing, an
        fsync per file, then per folder). Meant for many small files (a batch of publishes).
        """
        names = [hashlib.sha256(data).hexdigest() for data in datas]
        # Bytes already under their name are written again all the same: the name appears
        # at the rename, before the flush, so it may be another writer's still unflushed (or
        # failed) copy. Renaming over it with the same bytes is harmless.
        todo = dict(zip(names, datas, strict=True))
        if not todo:
            return names
        tmp_dir = self.root / TEMP_DIR
        written: list[tuple[str, str]] = []  # (temp path, name)
        fds: list[int] = []
        try:
            make_dirs(tmp_dir)  # 0700, the root too if new
            for name, data in todo.items():
                fd, tmp_path = _mkstemp(tmp_dir)
                fds.append(fd)
                written.append((tmp_path, name))
                _write_all(fd, data)
            # syncfs reports the write-back errors since its descriptor was opened: the
            # first temp file's, opened before any byte was written, covers the whole batch.
            flushed = self.fsync and sync_filesystem(fds[0])
            if self.fsync and not flushed:
                for fd in fds:
                    os.fsync(fd)
            folders: set[Path] = set()
            while written:
                tmp_path, name = written[-1]
                folders.update(self._place(tmp_path, name))
                written.pop()
            if flushed:
                sync_filesystem(fds[0])
            elif self.fsync:
                for folder in folders:
                    fsync_dir(folder)
            return names
        except OSError as exc:
            if exc.errno in _UNAVAILABLE_ERRNOS:
                raise StorageUnavailable(f"blob store {self.root} is not writable: {exc}") from exc
            raise
        finally:
            for fd in fds:
                os.close(fd)
            for tmp_path, _ in written:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_path)

    def _place(self, tmp_path: str, sha256: str) -> list[Path]:
        """Rename a written, fsynced temp file to its blob name; the folders to fsync."""
        final = self.path(sha256)
        created = make_dirs(final.parent)
        # Owner-read only: the blobs hold every published file, restricted ones and
        # certificate holder data included, and none is ever rewritten in place.
        os.chmod(tmp_path, BLOB_MODE)
        os.replace(tmp_path, final)  # atomic; an existing copy is the same bytes
        return [final.parent, *created]

    def clean_temp(self, *, older_than_s: float = 3600.0) -> int:
        """Remove uploads abandoned in `tmp/` (by a crash) older than `older_than_s`."""
        tmp_dir = self.root / TEMP_DIR
        cutoff = time.time() - older_than_s
        removed = 0
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(tmp_dir):
                if entry.is_file() and entry.stat().st_mtime < cutoff:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
                        removed += 1
        return removed


def _mkstemp(directory: Path) -> tuple[int, str]:
    return tempfile.mkstemp(prefix="upload-", suffix=".part", dir=directory)


def _write_all(fd: int, data: bytes) -> None:
    """`os.write` until all of `data` is written (it may write less than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
