"""The holder's link: a certificate's holder downloads their own document, nobody else's.

The link is `<base>/holder/<record id>#<salt hex>` (docs/privacy.md, "The holder's link"):
the fragment never reaches the server with the page request. The holder's page derives the
capability `sha256("holder" || salt || record id)` and asks for the document with it; the
database keeps only `sha256(capability)` (`records.holder_cap_sha256`), written at issue.

Every refusal is the same `NotFound` as for a record that does not exist: an unknown id, a
record that is no certificate, a wrong capability or another record's, a certificate that
is revoked or no longer current, one issued before holder links existed. The comparison is
constant time and made against a dummy digest when there is nothing to compare with.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from api.services.views import head_revision
from notary.db.models import Record
from notary.db.types import RecordKind, RecordStatus
from notary.errors import InvalidInput, NotaryError, NotFound
from notary.formats.certificate import SALT_LENGTH, capability_digest, holder_capability
from notary.formats.revision import parse_bytes32
from notary.publishing import blobs

_DUMMY_DIGEST = "0" * 64
"""Compared with when there is no stored digest, so a refusal costs the same work."""


@dataclass(frozen=True, slots=True)
class HolderDocument:
    """A certificate's document as its holder receives it (the salt prefix removed)."""

    record_id: str
    office_pk: int
    data: bytes
    media_type: str


def holder_link(base_url: str, record_id: str, salt: bytes) -> str:
    """The link the office hands the holder: the salt rides in the fragment."""
    return f"{base_url.rstrip('/')}/holder/{record_id}#{salt.hex()}"


def parse_salt(code: str) -> bytes:
    """The salt from what a holder pasted or typed: 64 hex digits, spaces and dashes
    allowed between them (a code read aloud or copied in groups)."""
    text = "".join(code.split()).replace("-", "").lower()
    if len(text) != SALT_LENGTH * 2 or any(c not in "0123456789abcdef" for c in text):
        raise InvalidInput(f"the holder code must be {SALT_LENGTH * 2} hexadecimal digits")
    return bytes.fromhex(text)


def capability_for(salt: bytes, record_id: str) -> bytes:
    """The capability the holder's page asks with, from the salt and the record id; an
    unreadable record id gets the same 404 as an unknown one."""
    try:
        rid = parse_bytes32(record_id, "record id")
    except NotaryError:
        raise NotFound("no such certificate") from None
    return holder_capability(salt, rid)


def parse_capability(text: str) -> bytes:
    """A capability as sent to the API: 64 hex digits (the format alone decides: a 400
    here says nothing about any record)."""
    try:
        return parse_bytes32(text, "capability")
    except NotaryError:
        raise InvalidInput("capability must be 64 hexadecimal digits") from None


def remember(session: Session, record_id: str, salt: bytes) -> None:
    """Keep the digest of a new certificate's capability, in the issue's transaction."""
    record = session.get(Record, record_id)
    if record is None:  # the issue inserted it in this transaction: never happens
        raise NotFound(f"no record {record_id}")
    record.holder_cap_sha256 = capability_digest(capability_for(salt, record_id))


def holder_document(
    session: Session, blob_root: Path, record_id: str, capability: bytes
) -> HolderDocument:
    """The certificate's document for the holder of `capability`, or the one 404."""
    missing = NotFound("no such certificate")
    try:
        rid = parse_bytes32(record_id, "record id").hex()
    except NotaryError:
        raise missing from None
    record = session.get(Record, rid)
    stored = record.holder_cap_sha256 if record is not None else None
    matches = hmac.compare_digest(
        (stored or _DUMMY_DIGEST).encode(), capability_digest(capability).encode()
    )
    if (
        record is None
        or not stored
        or not matches
        or record.kind is not RecordKind.CERTIFICATE
        or record.status is not RecordStatus.CURRENT
    ):
        raise missing
    head = head_revision(session, record)
    data, media_type = blobs.document(blob_root, blobs.stored(session, head.content_hash))
    return HolderDocument(rid, record.office_pk, data, media_type)
