"""The authentic pages shown beside a verdict: one PDF page as a PNG, rendered from the
office's file of a public record, within the anonymous caps (pages, inflated size, pixels),
cached per file and page.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response

from api.core.limits import rate_limited, retry_after
from api.pages.verify.context import verify_code
from api.pages.verify.extras import (
    SHOW_FILE_VERDICTS,
    RecordExtras,
    anonymous_view,
    extras_for,
    shown_extras,
)
from notary.pdf import bounds as pdf_bounds
from verifier.result import VerificationResult


def page_image(request: Request, code: str) -> Response:
    """The PNG of the page a code names (404 unless its record's file may be shown)."""
    result = verify_code(request, code)
    view = anonymous_view(result, raw := extras_for(request, result))
    extras = shown_extras(raw, view)
    if (
        result.verdict not in SHOW_FILE_VERDICTS
        or view is None
        or not view.file
        or not extras.is_pdf()
    ):
        return Response(status_code=404)
    key = (result.content_hash or "", (result.page or 1) - 1)
    png = _PAGE_IMAGES.get(key)
    if png is None and (wait := rate_limited(request)) is not None:
        return Response(status_code=429, headers={"Retry-After": retry_after(wait)})
    if png is None and (data := extras.file_data()) is not None:
        png = _render_pdf_page(data, key[1], bounds=page_bounds(request))
        if png is not None:
            with _PAGE_IMAGES_LOCK:
                _PAGE_IMAGES[key] = png
                while len(_PAGE_IMAGES) > PAGE_IMAGE_ENTRIES:
                    _PAGE_IMAGES.popitem(last=False)
    if png is None:
        return Response(status_code=404)
    return Response(png, media_type="image/png", headers={"Cache-Control": "public, max-age=300"})


PAGE_IMAGE_ENTRIES = 64
_PAGE_IMAGES: OrderedDict[tuple[str, int], bytes] = OrderedDict()
_PAGE_IMAGES_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class PageBounds:
    """What one anonymous `page.png` may cost (from the settings)."""

    max_pages: int = pdf_bounds.MAX_PAGES
    max_inflated: int = 64 * 1024 * 1024
    max_pixels: int = pdf_bounds.MAX_RENDER_PIXELS


def page_bounds(request: Request) -> PageBounds:
    settings = getattr(request.app.state, "settings", None)
    if settings is None:
        return PageBounds()
    return PageBounds(
        max_pages=settings.anon_max_pdf_pages,
        max_inflated=settings.anon_max_inflated_mb * 1024 * 1024,
        max_pixels=settings.page_image_max_pixels,
    )


def within_bounds(data: bytes, bounds: PageBounds) -> bool:
    """Whether the PDF is within the page and inflated-size caps, counted from its raw
    bytes before PDFium opens it (the verdict is kept per file: the file never changes)."""
    key = (hashlib.sha256(data).digest(), bounds.max_pages, bounds.max_inflated)
    ok = _PDF_CHECKED.get(key)
    if ok is None:
        try:
            pdf_bounds.check_pdf(data, max_pages=bounds.max_pages, max_inflated=bounds.max_inflated)
            ok = True
        except pdf_bounds.PdfTooLarge:
            ok = False
        with _PAGE_IMAGES_LOCK:
            _PDF_CHECKED[key] = ok
            while len(_PDF_CHECKED) > PAGE_IMAGE_ENTRIES:
                _PDF_CHECKED.popitem(last=False)
    return ok


_PDF_CHECKED: OrderedDict[tuple[bytes, int, int], bool] = OrderedDict()


def _render_pdf_page(
    data: bytes, index: int, width_px: int = 720, *, bounds: PageBounds | None = None
) -> bytes | None:
    """One PDF page as a PNG about `width_px` wide (pypdfium2), within `bounds`: a PDF over
    the page or inflated-size cap is not opened, and the scale is lowered so the image has
    at most `bounds.max_pixels` pixels whatever the page's shape."""
    bounds = bounds or PageBounds()
    if not within_bounds(data, bounds):
        return None
    try:
        import pypdfium2 as pdfium

        from notary.pdf.pdfium_lock import PDFIUM_LOCK

        with PDFIUM_LOCK:  # PDFium is not thread-safe; sync endpoints run in a thread pool
            pdf = pdfium.PdfDocument(data)
            try:
                if not 0 <= index < len(pdf) or len(pdf) > bounds.max_pages:
                    return None
                page = pdf[index]
                scale = pdf_bounds.render_scale(
                    page.get_width(),
                    page.get_height(),
                    width_px=width_px,
                    max_pixels=bounds.max_pixels,
                )
                image = page.render(scale=scale).to_pil()
                page.close()
            finally:
                pdf.close()
        buf = io.BytesIO()
        image.save(buf, format="PNG")  # `optimize` costs more than the page took to render
        return buf.getvalue()
    except Exception:
        return None


UPLOAD_PAGE_IMAGES = 20
"""At most this many authentic pages are shown beside an upload result."""


def _page_count(data: bytes) -> int:
    """Pages in a PDF (0 if PDFium cannot open it)."""
    try:
        import pypdfium2 as pdfium

        from notary.pdf.pdfium_lock import PDFIUM_LOCK

        with PDFIUM_LOCK:
            pdf = pdfium.PdfDocument(data)
            try:
                return len(pdf)
            finally:
                pdf.close()
    except Exception:
        return 0


def upload_page_images(result: VerificationResult, extras: RecordExtras) -> list[str]:
    """For an upload that matched an anchored revision whose file the tier lets anyone see:
    one `/v/<code>/page.png` per page (up to `UPLOAD_PAGE_IMAGES`), each code built from the
    chain's own leaf for that revision, so the image route verifies it like a scanned one."""
    if result.verdict not in SHOW_FILE_VERDICTS or not extras.is_pdf() or not result.registry:
        return []
    leaf = next((r.leaf for r in result.timeline if r.version == result.version), None)
    data = extras.file_data()
    if leaf is None or data is None or not result.record_id:
        return []
    total = _page_count(data)
    try:
        from notary.formats.qr_payload import QrPayload, encode

        base = QrPayload.for_page(
            chain_id=int(result.chain_id or 0),
            registry=result.registry,
            record_id=bytes.fromhex(result.record_id.removeprefix("0x")),
            version=int(result.version or 0),
            leaf=bytes.fromhex(leaf.removeprefix("0x")),
        )
        return [
            "/v/" + quote(encode(base.with_page(p, total)), safe="") + "/page.png"
            for p in range(1, min(total, UPLOAD_PAGE_IMAGES) + 1)
        ]
    except Exception:  # no pictures is better than a broken page
        return []
