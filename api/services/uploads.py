"""Reading uploads: bounded, typed, hashed.

The whole body is already capped by the app's `max_body_size` (413 before it is read); this
counts the file itself while reading it and refuses types the endpoint does not take.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from fastapi import UploadFile

from api.core.errors import PayloadTooLarge, UnsupportedMedia
from notary.errors import InvalidInput
from notary.pii import UnsupportedDocument
from notary.pii.sniff import check_declared

CHUNK = 1 << 20

DISCLOSURE_TYPES = frozenset({"application/pdf", "application/xml", "text/xml", "text/plain"})
"""What the PII guard can read; other formats must be converted before publishing."""
CERTIFICATE_TYPES = frozenset({"application/pdf", "application/xml", "text/xml", "application/ofd"})


@dataclass(frozen=True, slots=True)
class Upload:
    """An uploaded file read into memory, with its hashes."""

    data: bytes
    content_type: str
    filename: str | None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def sm3(self) -> str:
        return hashlib.new("sm3", self.data).hexdigest()


def media_type(upload: UploadFile) -> str:
    """The declared media type without parameters, lower case."""
    return (upload.content_type or "application/octet-stream").split(";")[0].strip().lower()


async def read_upload(upload: UploadFile, *, limit: int, allowed: frozenset[str]) -> Upload:
    """Read `upload` (at most `limit` bytes) and check its type against `allowed`."""
    ctype = media_type(upload)
    if ctype not in allowed:
        raise UnsupportedMedia(f"content type {ctype!r} not accepted; use one of {sorted(allowed)}")
    buf = bytearray()
    while chunk := await upload.read(CHUNK):
        buf += chunk
        if len(buf) > limit:
            raise PayloadTooLarge(f"file over the limit of {limit} bytes")
    data = bytes(buf)
    if not data:
        raise InvalidInput("the file is empty")
    if ctype == "application/pdf" and not data.startswith(b"%PDF-"):
        raise UnsupportedMedia("declared application/pdf but the file is not a PDF")
    try:  # the bytes decide: a PDF declared text/plain is refused, not scanned as text
        check_declared(data, ctype)
    except UnsupportedDocument as exc:
        raise UnsupportedMedia(str(exc)) from None
    return Upload(data=data, content_type=ctype, filename=upload.filename)
