"""A code's page fields, checked against the file this service holds.

The chain records no page count, so a genuine one-page record's code edited to say "page 7
of 12" (its checksum recomputed) passes every chain step. This service holds the published
file of its own records: a code whose page or page count disagrees with that file's pages is
tampered, one that agrees has `pages_checked` set, and where the service holds no file the
page fields stay "as the code says" (docs/qr-payload.md, "What a code proves").
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

from notary.db.models import Blob
from notary.errors import NotFound
from notary.pdf.pages import count_pages
from notary.publishing import blobs as blob_files
from verifier.payload import page_fields_fit
from verifier.result import Step, StepStatus, Verdict, VerificationResult

STEP = "check_stored_pages"
CHAIN_BACKED = frozenset(
    {Verdict.AUTHENTIC_CURRENT, Verdict.SUPERSEDED, Verdict.REVOKED, Verdict.EXPIRED}
)
"""Verdicts for which the chain backed the code's revision (so its content hash is known)."""
COUNT_ENTRIES = 256

_counts: OrderedDict[str, int | None] = OrderedDict()
_lock = threading.Lock()


def stored_page_count(blobs: Path, content_hash: str) -> int | None:
    """Pages of the stored file with this SHA-256 (hex, optional 0x); None when no such
    file is stored or it is not a PDF. Kept per hash: a stored file never changes."""
    sha = content_hash.removeprefix("0x").lower()
    with _lock:
        if sha in _counts:
            _counts.move_to_end(sha)
            return _counts[sha]
    try:
        count = count_pages(blob_files.open_path(blobs, Blob(sha256=sha)).read_bytes())
    except (NotFound, OSError):  # no such file here: the fields stay unchecked
        return None
    with _lock:
        _counts[sha] = count
        while len(_counts) > COUNT_ENTRIES:
            _counts.popitem(last=False)
    return count


def bind_pages(result: VerificationResult, blobs: Path | None) -> VerificationResult:
    """`result` with its code's page fields checked against the stored file, if any."""
    if (
        blobs is None
        or not result.page
        or result.pages_checked
        or result.verdict not in CHAIN_BACKED
        or not result.content_hash
    ):
        return result
    pages = stored_page_count(blobs, result.content_hash)
    if pages is None:
        return result
    where = f"page {result.page} of {result.page_count}"
    fit = page_fields_fit(result.page, result.page_count or 0, pages)
    if fit is None:  # the record's own code (receipts, current-version links): no page
        step = Step(STEP, StepStatus.PASS, f"a code of the whole record ({pages} pages)")
        return replace(result, steps=(*result.steps, step))
    if fit is False:
        reason = f"the code names {where}, but the published file has {pages} page(s)"
        return replace(
            result,
            verdict=Verdict.TAMPERED,
            reason=reason,
            steps=(*result.steps, Step(STEP, StepStatus.FAIL, reason)),
        )
    step = Step(STEP, StepStatus.PASS, f"{where}: the published file has {pages} page(s)")
    return replace(result, pages_checked=True, steps=(*result.steps, step))
