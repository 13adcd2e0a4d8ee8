"""A file on its way to publication: its type from its bytes, the PII guard, its hashes.

Every door hands the bytes (and, if it has one, the declared media type) to `prepare`; the
same rules then apply whoever published: a type the record kind does not take, bytes that
contradict their declared type, an empty or oversized file, and personal data without a mask
or a recorded override are refused before anything is hashed or stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from notary import pii
from notary.errors import InvalidInput
from notary.pii import UnsupportedDocument
from notary.pii.limits import DEFAULT_LIMITS, ScanLimits
from notary.pii.sniff import PDF, check_declared, looks_like_xml
from notary.publishing.errors import PayloadTooLarge, PiiFound, UnsupportedMedia

DISCLOSURE_TYPES = frozenset({"application/pdf", "application/xml", "text/xml", "text/plain"})
"""What the PII guard can read; other formats must be converted before publishing."""
CERTIFICATE_TYPES = frozenset({"application/pdf", "application/xml", "text/xml", "application/ofd"})
UNDECLARED = frozenset({"", "application/octet-stream"})
"""Declared types that leave the bytes to decide (a file given on the command line)."""


@dataclass(frozen=True, slots=True)
class Guarded:
    """What to publish after the guard, and the findings an override must record."""

    data: bytes
    masked: bool
    overridden_findings: list[dict[str, Any]] | None


@dataclass(frozen=True, slots=True)
class NewContent:
    """Bytes that passed the guard, with their type and hashes; `on_disk` once a request has
    written and flushed them (else the publish writer stores them with its batch)."""

    guarded: Guarded
    content_type: str
    sha256: str
    sm3: str
    on_disk: bool = False


def media_type_of(data: bytes, declared: str | None, allowed: frozenset[str]) -> str:
    """The media type the file is published as: the declared one if the bytes agree with
    it, else (nothing declared) what the bytes are; refused unless in `allowed`.

    Raises `InvalidInput` for an empty file and `UnsupportedMedia` for the rest.
    """
    if not data:
        raise InvalidInput("the file is empty")
    media = (declared or "").split(";")[0].strip().lower()
    try:  # the bytes decide: a PDF declared text/plain is refused, not scanned as text
        found = check_declared(data, media)
    except UnsupportedDocument as exc:
        raise UnsupportedMedia(str(exc)) from None
    if media in UNDECLARED:
        media = _from_bytes(data, found)
    if media not in allowed:
        raise UnsupportedMedia(f"content type {media!r} not accepted; use one of {sorted(allowed)}")
    if media == PDF and not data.startswith(b"%PDF-"):
        raise UnsupportedMedia("declared application/pdf but the file is not a PDF")
    return media


def _from_bytes(data: bytes, found: str | None) -> str:
    """What undeclared bytes are: a sniffed binary format, XML, UTF-8 text, or unknown."""
    if found is not None:
        return found
    if looks_like_xml(data):
        return "application/xml"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain"


def check_size(size: int, limit: int) -> None:
    """Refuse a file over `limit` bytes (`PayloadTooLarge`)."""
    if size > limit:
        raise PayloadTooLarge(f"file over the limit of {limit} bytes")


def guard(
    data: bytes,
    content_type: str,
    *,
    mask: bool,
    override_reason: str | None,
    filename: str | None = None,
    limits: ScanLimits = DEFAULT_LIMITS,
) -> Guarded:
    """Scan `data`; raise `PiiFound` unless masking or an override was asked for.

    Masking wins over an override: the masked copy is what gets hashed and published. A
    document over `limits` raises `DocumentTooLarge` before the work is done.
    """
    findings = pii.scan_document(data, content_type, filename=filename, limits=limits)
    if not findings:
        return Guarded(data=data, masked=False, overridden_findings=None)
    if mask:
        masked = pii.mask_document(data, content_type, findings, filename=filename, limits=limits)
        return Guarded(data=masked, masked=True, overridden_findings=None)
    listed = [f.as_dict() for f in findings]
    if override_reason and override_reason.strip():
        return Guarded(data=data, masked=False, overridden_findings=listed)
    raise PiiFound(listed)


TEXT_PII = (
    "personal data found in {fields}: a text field cannot be masked; remove it, or pass "
    "pii_override_reason where the request takes one"
)


def guard_text(
    fields: Mapping[str, str | None], *, override_reason: str | None
) -> list[dict[str, Any]] | None:
    """Scan text that becomes public (titles, notes, reasons…) with the file guard's
    detectors; raise `PiiFound` (findings located by field name) unless an override reason
    is given, in which case the findings are returned for the override record.
    """
    findings = [f.as_dict() for f in pii.scan_fields({k: v for k, v in fields.items() if v})]
    if not findings:
        return None
    if override_reason and override_reason.strip():
        return findings
    names = ", ".join(dict.fromkeys(str(f["location"]) for f in findings))
    raise PiiFound(findings, TEXT_PII.format(fields=names))


def with_text_findings(guarded: Guarded, findings: list[dict[str, Any]] | None) -> Guarded:
    """`guarded` with overridden text findings added to those its override records."""
    if not findings:
        return guarded
    return replace(guarded, overridden_findings=[*(guarded.overridden_findings or []), *findings])


def metadata_texts(client: Mapping[str, Any] | None) -> dict[str, str]:
    """The client's metadata text that is published, by field name (`extra.<key>` too)."""
    client = client or {}
    out = {
        f"metadata.{k}": client[k]
        for k in ("title", "category", "reviewer")
        if isinstance(client.get(k), str)
    }
    extra = client.get("extra")
    if isinstance(extra, Mapping):
        out |= {f"metadata.extra.{k}": v for k, v in extra.items() if isinstance(v, str)}
    return out


def guarded_content(guarded: Guarded, content_type: str) -> NewContent:
    """The guarded bytes with their hashes (SHA-256 anchored, SM3 in the metadata)."""
    return NewContent(
        guarded=guarded,
        content_type=content_type,
        sha256=hashlib.sha256(guarded.data).hexdigest(),
        sm3=hashlib.new("sm3", guarded.data).hexdigest(),
    )


def prepare(
    data: bytes,
    declared: str | None,
    *,
    allowed: frozenset[str] = DISCLOSURE_TYPES,
    limit: int,
    mask: bool = False,
    override_reason: str | None = None,
    filename: str | None = None,
    limits: ScanLimits = DEFAULT_LIMITS,
) -> NewContent:
    """Check a file's size and type, run the PII guard, and hash what passed."""
    check_size(len(data), limit)
    media = media_type_of(data, declared, allowed)
    g = guard(
        data, media, mask=mask, override_reason=override_reason, filename=filename, limits=limits
    )
    return guarded_content(g, media)
