"""How many pages a PDF has, within the cheap bounds of `notary.pdf.bounds`.

A verify code carries its page and page count, but the chain records no page count: only
someone holding the file can check them (docs/qr-payload.md, "What a code proves"). This is
the one count the verifier and the service use for that.
"""

from __future__ import annotations

import io

from notary.formats.qr_payload import PAGES_MAX  # the largest page count a code carries
from notary.pdf import bounds


def count_pages(data: bytes) -> int | None:
    """The PDF's page count; None for bytes that are not a readable PDF, or a PDF over the
    inflated-size or page bounds (counted from the raw bytes before it is parsed)."""
    if not bytes(data[:1024]).lstrip().startswith(b"%PDF"):
        return None
    try:
        bounds.check_pdf(data, max_pages=PAGES_MAX)
        from pypdf import PdfReader

        return len(PdfReader(io.BytesIO(data), strict=False).pages)
    except Exception:  # any malformed structure in an untrusted file: no count
        return None
