"""Reading uploads: bounded while read, then typed by `notary.publishing.content`.

The whole body is already capped by the app's `max_body_size` (413 before it is read); this
counts the file itself while reading it and refuses types the endpoint does not take; the
type rules (the bytes decide) are the publishing path's, shared with the CLI.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from fastapi import UploadFile

from notary.publishing.content import CERTIFICATE_TYPES, DISCLOSURE_TYPES, media_type_of
from notary.publishing.errors import PayloadTooLarge, UnsupportedMedia

__all__ = ["CERTIFICATE_TYPES", "DISCLOSURE_TYPES", "Upload", "media_type", "read_upload"]

CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Upload:
    """An uploaded file read into memory, with its hashes."""

    data: bytes
    content_type: str
    filename: str | None

    @property
    def sha256(self) -> str:
        """The file's SHA-256, hex."""
        return hashlib.sha256(self.data).hexdigest()

    @property
    def sm3(self) -> str:
        """The file's SM3, hex."""
        return hashlib.new("sm3", self.data).hexdigest()


def media_type(upload: UploadFile) -> str:
    """The declared media type without parameters, lower case."""
    return (upload.content_type or "application/octet-stream").split(";")[0].strip().lower()


async def read_upload(upload: UploadFile, *, limit: int, allowed: frozenset[str]) -> Upload:
    """Read `upload` (at most `limit` bytes) and check its type against `allowed`."""
    ctype = media_type(upload)
    if ctype not in allowed:  # before reading: a type never taken costs no upload
        raise UnsupportedMedia(f"content type {ctype!r} not accepted; use one of {sorted(allowed)}")
    buf = bytearray()
    while chunk := await upload.read(CHUNK):
        buf += chunk
        if len(buf) > limit:
            raise PayloadTooLarge(f"file over the limit of {limit} bytes")
    data = bytes(buf)
    return Upload(
        data=data, content_type=media_type_of(data, ctype, allowed), filename=upload.filename
    )
