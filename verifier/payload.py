"""The verifier's view of a QR payload: parsed by `notary.formats.qr_payload`, then flattened.

Parsing is the notary's (one format, one parser, golden vectors); this module only turns a
URL or bare payload into the few typed fields the verification steps read, and turns every
parse failure into `PayloadError` (→ the INVALID_CODE verdict).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_CODE_CHARS = 4096
"""Anything longer than this cannot be one of our codes (they fit a version-10 QR)."""


class PayloadError(ValueError):
    """The text is not a valid code of this system."""


@dataclass(frozen=True, slots=True)
class PayloadView:
    """The fields of a parsed payload that verification uses (`raw` is the QrPayload)."""

    raw: Any
    host: str | None
    scheme: str | None  # of a verify URL ("https" or "http"); None for a bare payload
    chain_id: int
    registry_prefix: bytes
    record_id: bytes
    version: int
    page: int
    page_count: int
    leaf_prefix: bytes
    salt: bytes | None
    signature: bytes | None


def parse_code(text: str) -> PayloadView:
    """Parse a verify URL or bare payload into a `PayloadView`; PayloadError if invalid."""
    if not isinstance(text, str):
        raise PayloadError("a code must be text")
    text = text.strip()
    if not text:
        raise PayloadError("empty code")
    if len(text) > MAX_CODE_CHARS:
        raise PayloadError("code is far too long to be a verify code")
    try:
        from notary.formats import qr_payload as qp  # the one parser of the format

        if "/" in text or ":" in text:
            link = qp.parse_verify_url(text)
            host, scheme, payload = link.host, link.scheme, link.payload
        else:
            host, scheme, payload = None, None, qp.decode(text)
    except ImportError as exc:
        raise PayloadError(f"payload parser unavailable: {exc}") from exc
    except Exception as exc:  # strict parser: any failure means "not a code"
        raise PayloadError(str(exc) or type(exc).__name__) from exc
    return PayloadView(
        raw=payload,
        host=host,
        scheme=scheme,
        chain_id=payload.chain_id,
        registry_prefix=payload.registry_prefix,
        record_id=payload.record_id,
        version=payload.version,
        page=payload.page,
        page_count=payload.pages,
        leaf_prefix=payload.leaf_prefix,
        salt=payload.salt,
        signature=payload.signature,
    )


def page_fields_fit(page: int, page_count: int, file_pages: int) -> bool | None:
    """Whether a code's page fields fit a file of `file_pages` pages: True when they name one
    of its pages (page count equal, page within it); None for page 1 of 1 on a longer file,
    the code of the record as a whole (receipts, links to the current version), which names
    no page; False otherwise (docs/qr-payload.md, "What a code proves")."""
    if page_count == file_pages and 1 <= page <= file_pages:
        return True
    if (page, page_count) == (1, 1):
        return None
    return False
