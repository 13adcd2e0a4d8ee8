"""Documents: pick the format, read its text, scan it, and mask what can be masked."""

from __future__ import annotations

from collections.abc import Sequence

from notary.pdf import bounds as pdf_bounds
from notary.pii.decoding import Decoded, decode_text, strip_bom
from notary.pii.limits import DEFAULT_LIMITS, Deadline, ScanLimits
from notary.pii.model import (
    DocumentTooLarge,
    Finding,
    MaskingUnsupported,
    UnreadableDocument,
    UnsafeXml,
    UnsupportedDocument,
)
from notary.pii.sniff import PDF, check_declared, looks_like_xml
from notary.pii.text import mask_text, scan_text
from notary.pii.xmldoc import mask_xml, scan_xml


def _check_pdf_bounds(data: bytes, limits: ScanLimits) -> None:
    """Refuse a PDF that inflates past the limit or has too many pages, before PDFium
    sees it (PDFium inflates a content stream whole, and may abort the process when
    memory runs out)."""
    try:
        pdf_bounds.check_pdf(
            data, max_pages=limits.max_pages, max_inflated=limits.max_inflated_bytes
        )
    except pdf_bounds.PdfTooLarge as exc:
        raise DocumentTooLarge(str(exc)) from None


def _pdf_pages(data: bytes, limits: ScanLimits = DEFAULT_LIMITS) -> list[str]:
    """The text layer of each page, through PDFium, within `limits`.

    PDFium rather than pypdf: both read CID fonts with Unicode or GB CMaps, but only PDFium
    maps Identity-H codes of non-embedded Adobe-GB1 fonts without a ToUnicode table through
    the character collection, where pypdf returns raw CIDs (tests pin this).
    """
    import pypdfium2 as pdfium  # only PDF scans pay for loading PDFium

    from notary.pdf.pdfium_lock import PDFIUM_LOCK

    _check_pdf_bounds(data, limits)
    deadline = Deadline(limits)
    pages: list[str] = []
    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise UnreadableDocument(f"PDF cannot be opened: {exc}") from None
        try:
            if len(pdf) > limits.max_pages:
                raise DocumentTooLarge(f"the PDF has too many pages (over {limits.max_pages})")
            for index in range(len(pdf)):
                deadline.check()
                pages.append(_page_text(pdf, index, limits))
        except pdfium.PdfiumError as exc:
            raise UnreadableDocument(f"PDF text cannot be read: {exc}") from None
        finally:
            pdf.close()
    return pages


def _page_text(pdf: object, index: int, limits: ScanLimits) -> str:
    """One page's text layer, refused over `limits.max_page_chars` characters."""
    page = pdf[index]  # type: ignore[index]
    try:
        textpage = page.get_textpage()
        try:
            if textpage.count_chars() > limits.max_page_chars:
                raise DocumentTooLarge(
                    f"page {index + 1} has too much text (over {limits.max_page_chars} characters)"
                )
            return textpage.get_text_range()
        finally:
            textpage.close()
    finally:
        page.close()


def _scan_pdf(data: bytes, limits: ScanLimits) -> list[Finding]:
    pages = _pdf_pages(data, limits)
    return [f for n, text in enumerate(pages, 1) for f in scan_text(text, page=n)]


_PDF, _XML, _TEXT, _TEXT_XML = "pdf", "xml", "text", "text+xml"


def _format(data: bytes, content_type: str | None, filename: str | None) -> tuple[str, str | None]:
    """(`pdf` | `xml` | `text` | `text+xml`, charset): the bytes first, then the content
    type, then the name.

    A binary format the bytes show (`sniff`) must agree with the declared type, else
    `UnsupportedDocument`; text declared as text that starts like XML is `text+xml` (both
    scans, see `scan_document`).
    """
    found = check_declared(data, content_type)
    media, _, params = (content_type or "").partition(";")
    media = media.strip().lower()
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    if media in ("application/pdf", "application/x-pdf"):
        return _PDF, None
    if media in ("application/xml", "text/xml") or media.endswith("+xml"):
        return _XML, None
    if media.startswith("text/") or media == "application/json" or media.endswith("+json"):
        return (_TEXT_XML if looks_like_xml(data) else _TEXT), charset
    if media not in ("", "application/octet-stream"):
        raise UnsupportedDocument(f"cannot scan {media[:60]} for personal data")
    if found == PDF:
        return _PDF, None
    if found is not None:
        raise UnsupportedDocument(f"cannot scan {found} for personal data")
    suffix = (filename or "").lower().rpartition(".")[2] if "." in (filename or "") else ""
    by_suffix = {"pdf": _PDF, "xml": _XML, "txt": _TEXT, "csv": _TEXT, "md": _TEXT, "json": _TEXT}
    if suffix in by_suffix:
        return by_suffix[suffix], charset
    if suffix:
        raise UnsupportedDocument(f"cannot scan .{suffix[:10]} files for personal data")
    if b"%PDF-" in data[:1024]:
        return _PDF, None
    if strip_bom(data)[0].lstrip().startswith(b"<"):
        return _XML, None
    return _TEXT, charset


def _text_or_unsupported(data: bytes, charset: str | None) -> Decoded:
    try:
        return decode_text(data, charset)
    except UnreadableDocument:
        if charset:
            raise
        raise UnsupportedDocument("cannot scan binary data for personal data") from None


def scan_document(
    data: bytes,
    content_type: str | None = None,
    *,
    filename: str | None = None,
    limits: ScanLimits = DEFAULT_LIMITS,
) -> list[Finding]:
    """Every piece of personal data in a PDF's text layer, an XML document or plain text.

    The bytes decide first: a binary format they show (PDF, zip, image…) must agree with
    `content_type` (`notary.pii.sniff`). Then the format comes from `content_type`, else
    from `filename`'s extension, else from the bytes. Raises `UnsupportedDocument` for
    formats with no readable text (the caller decides whether those may be published) or a
    declared type the bytes contradict, `UnreadableDocument` for malformed, encrypted or
    undecodable files, `DocumentTooLarge` (an `UnreadableDocument`) for files over
    `limits`, and `UnsafeXml` for XML with DTD entities.
    """
    kind, charset = _format(data, content_type, filename)
    if kind == _PDF:
        return _scan_pdf(data, limits)
    if kind == _XML:
        return scan_xml(data, limits)
    findings = scan_text(_text_or_unsupported(data, charset).text)
    if kind == _TEXT_XML:
        findings += _xml_findings_if_parsable(data, limits)
    return findings


def _xml_findings_if_parsable(data: bytes, limits: ScanLimits) -> list[Finding]:
    """XML-looking text declared as text is scanned as XML too: a number written with
    character references (`&#49;…`) is plain to any XML reader. Text that does not parse as
    XML (or declares entities, which only an XML reader would expand) adds nothing."""
    try:
        return scan_xml(data, limits)
    except DocumentTooLarge:
        raise
    except (UnreadableDocument, UnsafeXml):
        return []


def mask_document(
    data: bytes,
    content_type: str | None = None,
    findings: Sequence[Finding] | None = None,
    *,
    filename: str | None = None,
    limits: ScanLimits = DEFAULT_LIMITS,
) -> bytes:
    """A copy of a plain-text or XML document with its personal data masked as `mask_text`.

    Plain text keeps its encoding (and BOM). XML keeps its structure byte for byte except
    for the masked values: element and attribute names, comments, the declaration and the
    encoding all stay, and only text nodes and attribute values with findings are rewritten.
    PDFs raise `MaskingUnsupported`: redacting a PDF's drawn text faithfully is not
    something this service can do, so the office masks the source and exports again.
    `findings` is accepted for callers that pass what they scanned and is not needed: the
    bytes are always scanned again. The result is checked to scan clean.
    """
    del findings  # always re-scanned: the bytes are the truth
    kind, charset = _format(data, content_type, filename)
    if kind == _PDF:
        raise MaskingUnsupported(
            "a PDF cannot be masked faithfully here (its text is drawn, and removing it "
            "means rewriting the pages); mask the personal data in the source document, "
            "export the PDF again and upload that, or publish with an override and a reason"
        )
    if kind == _XML:
        masked = mask_xml(data, limits)
    else:
        decoded = _text_or_unsupported(data, charset)
        masked = decoded.encode(mask_text(decoded.text)[0])
    if scan_document(masked, content_type, filename=filename, limits=limits):
        raise MaskingUnsupported("masking left personal data behind; mask the source instead")
    return masked
