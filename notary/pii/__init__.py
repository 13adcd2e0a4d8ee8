"""PII guard: find and mask personal data in a disclosure before it is published.

Detects mainland resident ID numbers (GB 11643-1999 check digit), mobile numbers, bank card
numbers (Luhn) and street-level addresses in plain text (UTF-8, GB18030, UTF-16 with a BOM),
in XML (text, CDATA, comments, processing instructions and attribute values) and in the text
layer of PDFs. Masking keeps the shape of the document and replaces only the personal part
(`110105********1234`, `138****5678`, `622202******7890`, `北京市朝阳区***`), so an office
can publish the masked copy: masking happens before hashing, and the chain backs the masked
bytes.

Pure: no database, no web framework, no chain, no network. Nothing here logs, and a
`Finding` never holds a raw value, only a masked preview, so findings are safe to return in
an HTTP error body and to keep in the audit trail. docs/privacy.md says what is detected and
where the guard is known to miss or over-report.
"""

from __future__ import annotations

from notary.pii.documents import mask_document, scan_document
from notary.pii.model import (
    DocumentTooLarge,
    Finding,
    MaskingUnsupported,
    PiiKind,
    UnreadableDocument,
    UnsafeXml,
    UnsupportedDocument,
)
from notary.pii.numbers import is_resident_id, luhn_valid, resident_id_check_digit
from notary.pii.text import mask_text, scan_fields, scan_text

__all__ = [
    "DocumentTooLarge",
    "Finding",
    "MaskingUnsupported",
    "PiiKind",
    "UnreadableDocument",
    "UnsafeXml",
    "UnsupportedDocument",
    "is_resident_id",
    "luhn_valid",
    "mask_document",
    "mask_text",
    "resident_id_check_digit",
    "scan_document",
    "scan_fields",
    "scan_text",
]
