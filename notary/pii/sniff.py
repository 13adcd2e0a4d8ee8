"""What a file is, from its bytes: the guard scans what the file *is*, not what it is called.

A client's declared media type is only a claim: a PDF declared `text/plain` would be scanned
as (undecodable) text, pass, and then be rendered as a PDF by whatever reads its bytes (the
verify page's page image does). `sniff` names the binary formats by their magic numbers;
`check_declared` refuses a declaration the bytes contradict (docs/privacy.md, "File type").

Pure: no I/O.
"""

from __future__ import annotations

from notary.pii.decoding import strip_bom
from notary.pii.model import UnsupportedDocument

PDF = "application/pdf"
ZIP = "application/zip"

PDF_HEADER_WINDOW = 1024
"""PDFium (like most readers) opens a file whose `%PDF-` header is within its first KB."""

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", ZIP),  # zip containers: OFD, DOCX, XLSX, ODF, EPUB …
    (b"PK\x05\x06", ZIP),  # an empty zip
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),  # DOC, XLS
    (b"\x1f\x8b", "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
)

DECLARED_FOR = {
    PDF: frozenset({"application/pdf", "application/x-pdf"}),
    ZIP: frozenset({"application/ofd", "application/zip"}),
}
"""Declared types that agree with a sniffed container (others disagree)."""

XML_DECLARED = frozenset({"application/xml", "text/xml"})


def sniff(data: bytes) -> str | None:
    """The binary format `data` is, by its magic number; None for text (or unknown bytes).

    A PDF is recognised by `%PDF-` anywhere in its first `PDF_HEADER_WINDOW` bytes, as
    PDF readers accept it; the other formats by their first bytes.
    """
    for magic, media in _MAGIC:
        if data.startswith(magic):
            return media
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if b"%PDF-" in data[:PDF_HEADER_WINDOW]:
        return PDF
    return None


def looks_like_xml(data: bytes) -> bool:
    """Whether the bytes (after any BOM and leading whitespace) start like an XML document."""
    body = strip_bom(data)[0].lstrip()
    return body.startswith((b"<?xml", b"<!--", b"<!DOCTYPE")) or (
        body[:1] == b"<" and body[1:2].isalpha()
    )


def check_declared(data: bytes, declared: str | None) -> str | None:
    """Refuse a declared media type that the bytes contradict; returns what `sniff` found.

    A binary format (PDF, a zip container, an image, an archive, an OLE document) must be
    declared as itself; `application/octet-stream` or no type at all leaves the bytes to
    decide. Raises `UnsupportedDocument` naming both types.
    """
    media = (declared or "").split(";")[0].strip().lower()
    found = sniff(data)
    if found is None or media in ("", "application/octet-stream"):
        return found
    if media not in DECLARED_FOR.get(found, frozenset({found})):
        raise UnsupportedDocument(
            f"declared {media[:60]} but the bytes are {found}: declare the file's real type"
        )
    return found
