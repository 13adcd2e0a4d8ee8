"""The API's use of the blob store: files on disk (`notary.storage.blobstore`), rows in `blobs`."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from notary.db.models import Blob
from notary.db.types import utcnow
from notary.errors import NotFound
from notary.storage.blobstore import BlobStore

__all__ = [
    "SALTED_PARAM",
    "Blob",
    "add_row",
    "document",
    "open_path",
    "put",
    "read",
    "salted_media_type",
    "stored",
    "write_file",
]

_INSERTS = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}

SALTED_PARAM = "; x-salt-prefix=32"
"""Media-type suffix of a certificate blob stored as `salt || document`.

Such a blob's SHA-256 is the certificate's on-chain `contentHash` (docs/formats.md,
"Certificate commitment"), so the store stays content-addressed; the salt is stripped
before the document is ever served.
"""


def write_file(root: Path, sha256: str, data: bytes) -> None:
    """Put the bytes on disk (no database): done before the transaction so no lock waits on it.

    Written and flushed even if the name exists: a file is there once renamed, before its
    flush, so finding it proves nothing about the disk (another request may still be
    flushing it, or its flush failed). Content-addressed, so writing twice is harmless and a
    crash leaves at worst an orphan.
    """
    stored_hash, _ = BlobStore(root).put_bytes(data)
    assert stored_hash == sha256


def put(session: Session, root: Path, *, sha256: str, data: bytes, media_type: str) -> None:
    """Store `data` under its hash and make sure its `Blob` row exists."""
    write_file(root, sha256, data)
    add_row(session, root, sha256=sha256, size=len(data), media_type=media_type)


def add_row(session: Session, root: Path, *, sha256: str, size: int, media_type: str) -> None:
    """Make sure the `Blob` row of a file already on disk exists.

    `INSERT … ON CONFLICT DO NOTHING`: the same bytes may be stored by a concurrent request
    (or another API process), and the row is the same whoever writes it.
    """
    insert = _INSERTS[session.get_bind().dialect.name]
    session.execute(
        insert(Blob)
        .values(
            sha256=sha256,
            size=size,
            path=BlobStore(root).relative_path(sha256),
            media_type=media_type,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["sha256"])
    )


def stored(session: Session, sha256: str) -> Blob:
    """The `Blob` row for a hash, or NotFound."""
    blob = session.get(Blob, sha256)
    if blob is None:
        raise NotFound(f"no file {sha256}")
    return blob


def open_path(root: Path, blob: Blob) -> Path:
    """The file of a stored blob (NotFound if the disk lost it)."""
    path = BlobStore(root).path(blob.sha256)
    if not path.is_file():
        raise NotFound(f"file {blob.sha256} is not on disk")
    return path


def read(root: Path, blob: Blob) -> bytes:
    """A stored blob's bytes."""
    return open_path(root, blob).read_bytes()


def salted_media_type(media_type: str) -> str:
    """The media type recorded for a `salt || document` certificate blob."""
    return media_type + SALTED_PARAM


def document(root: Path, blob: Blob) -> tuple[bytes, str]:
    """A blob's servable bytes and media type: a certificate's salt prefix is removed."""
    data = read(root, blob)
    media_type = blob.media_type or "application/octet-stream"
    if media_type.endswith(SALTED_PARAM):
        return data[32:], media_type.removesuffix(SALTED_PARAM)
    return data, media_type
