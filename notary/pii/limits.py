"""Bounds of one scan: decompressed size, pages, text per page, XML depth and time.

A disclosure is small next to what it can inflate to: a 1 MB PDF can hold a content stream
of 1 GB of zeros, and nested XML makes every element cost its depth. Every scan works within
these bounds and refuses (`DocumentTooLarge`) what goes over, before the work is done.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from notary.pdf import bounds as pdf_bounds
from notary.pii.model import DocumentTooLarge


@dataclass(frozen=True, slots=True)
class ScanLimits:
    """What one scan may cost (the API takes them from `NOTARY_PII_*` settings)."""

    max_inflated_bytes: int = pdf_bounds.MAX_INFLATED_BYTES
    max_pages: int = 5000
    max_page_chars: int = 2_000_000
    max_xml_depth: int = 256
    seconds: float = 30.0


DEFAULT_LIMITS = ScanLimits()


@dataclass(slots=True)
class Deadline:
    """A point in time a scan must finish by; `check` is called in the scan's loops."""

    limits: ScanLimits
    until: float = field(init=False)

    def __post_init__(self) -> None:
        self.until = time.monotonic() + self.limits.seconds

    def check(self) -> None:
        """Raise `DocumentTooLarge` once the scan has taken longer than its limit."""
        if time.monotonic() > self.until:
            raise DocumentTooLarge(
                f"the document takes too long to scan (over {self.limits.seconds:g} s)"
            )
