"""Cheap bounds on what a PDF can make PDFium do, checked before PDFium opens it.

PDFium inflates a page's content streams whole and walks the whole page tree; a 1 MB file
whose stream inflates to 1 GB, or a file with 100,000 pages, costs the process gigabytes
or seconds while it holds the one process-wide PDFium lock. `inspect_pdf` reads the raw
bytes in one pass instead: it inflates every Flate stream incrementally, counting bytes and
dropping them, and stops at a budget; it counts page objects in the file and in the object
streams it inflated, and the largest `/Count` of a page tree. Both are upper bounds an
honest file cannot exceed by accident, so refusing above them refuses no real disclosure.

`render_scale` keeps a rendered page under a pixel budget whatever its aspect ratio.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass

MAX_INFLATED_BYTES = 128 * 1024 * 1024
"""Default budget for all of a PDF's Flate streams inflated together."""
MAX_PAGES = 2000
"""Default page cap for the paths that hand a PDF to PDFium on request."""
MAX_RENDER_PIXELS = 1_200_000
"""Default pixel budget of one rendered page (a 720-px-wide A4 page is about 730,000)."""
MAX_STAMP_ENTRIES = 250_000
"""Most entries the stamp reads and copies from a PDF's pages, summed over every page: the
entries of each page's dictionary, `/Resources`, `/XObject` dictionary, `/Contents` array and
`/Annots` array, counted once per page that uses them (a page's stamped copy holds copies of
them all, so an array shared by every page costs once per page). An A4 report has about 20
per page; the cap is 125 per page at 2,000 pages and keeps a stamp or its check under about
a second however the file shares its arrays."""

_STREAM = re.compile(rb"stream\r?\n")
_ENDSTREAM = b"endstream"
_PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
_PAGE_COUNT = re.compile(rb"/Count\s+(\d{1,12})")
_CHUNK = 1 << 20
_OVERLAP = 32  # a page marker split across two inflated chunks is still seen


class PdfTooLarge(ValueError):
    """The PDF is over a bound (inflated size or pages); the message says which."""


@dataclass(frozen=True, slots=True)
class PdfInventory:
    """What one pass over a PDF's bytes found."""

    inflated_bytes: int
    pages: int
    """An upper bound of the page count (page objects seen, or the largest /Count)."""


def _inflate_counting(body: bytes, budget: int) -> tuple[int, int]:
    """(bytes a Flate stream inflates to, page markers in them), reading at most `budget`
    bytes of output; anything that is not Flate inflates to (0, 0)."""
    inflater = zlib.decompressobj()
    total = pages = 0
    tail = b""
    data = body
    try:
        while data and total <= budget:
            out = inflater.decompress(data, _CHUNK)
            data = inflater.unconsumed_tail
            total += len(out)
            if b"/Page" in out or b"/Page" in tail + out[:_OVERLAP]:  # rare: skip the regex
                window = tail + out
                pages += len(_PAGE_OBJECT.findall(window)) - len(_PAGE_OBJECT.findall(tail))
            tail = out[-_OVERLAP:]
            if not out:
                break
    except zlib.error:  # not Flate (DCT, raw, or damaged): PDFium decides
        return total, pages
    return total, pages


def inspect_pdf(data: bytes, *, max_inflated: int = MAX_INFLATED_BYTES) -> PdfInventory:
    """Inflate every stream within `max_inflated` bytes in all and count the pages.

    Raises `PdfTooLarge` as soon as the streams inflate past `max_inflated`.
    """
    view = bytes(data)
    inflated = 0
    hidden_pages = 0
    at = 0
    while (m := _STREAM.search(view, at)) is not None:
        start = m.end()
        end = view.find(_ENDSTREAM, start)
        if end < 0:
            end = len(view)
        size, pages = _inflate_counting(view[start:end], max_inflated - inflated)
        inflated += size
        hidden_pages += pages
        if inflated > max_inflated:
            raise PdfTooLarge(
                f"the PDF is too large when decompressed (over {max_inflated // 2**20} MB)"
            )
        at = end + len(_ENDSTREAM)
    counts = [int(c) for c in _PAGE_COUNT.findall(view)]
    objects = len(_PAGE_OBJECT.findall(view)) + hidden_pages
    return PdfInventory(inflated_bytes=inflated, pages=max([objects, *counts]))


def check_pdf(
    data: bytes, *, max_pages: int = MAX_PAGES, max_inflated: int = MAX_INFLATED_BYTES
) -> PdfInventory:
    """`inspect_pdf`, refusing more than `max_pages` pages too."""
    inventory = inspect_pdf(data, max_inflated=max_inflated)
    if inventory.pages > max_pages:
        raise PdfTooLarge(f"the PDF has too many pages (more than {max_pages})")
    return inventory


class EntryBudget:
    """Counts the page entries a stamp will read and copy, refusing past its limit *before*
    the work: the caller takes each container's length (one cheap `len`) and only then walks
    it."""

    def __init__(self, limit: int = MAX_STAMP_ENTRIES) -> None:
        self.limit = limit
        self.used = 0

    def take(self, entries: int) -> None:
        """Count `entries` more; `PdfTooLarge` once the total passes the limit."""
        self.used += entries
        if self.used > self.limit:
            raise PdfTooLarge(
                f"the PDF's pages list too many annotations, resources or content streams "
                f"(over {self.limit:,} entries over all pages)"
            )


def render_scale(
    width_pt: float, height_pt: float, *, width_px: int, max_pixels: int = MAX_RENDER_PIXELS
) -> float:
    """The scale that renders a page `width_px` wide, lowered so that width × height stays
    within `max_pixels` (a tall narrow page would otherwise be millions of pixels high)."""
    width_pt, height_pt = max(width_pt, 1.0), max(height_pt, 1.0)
    scale = width_px / width_pt
    if width_pt * height_pt * scale * scale > max_pixels:
        scale = math.sqrt(max_pixels / (width_pt * height_pt))
    while math.ceil(width_pt * scale) * math.ceil(height_pt * scale) > max_pixels:
        scale *= 0.99  # the renderer rounds each side up
    return scale
