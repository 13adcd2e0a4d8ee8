"""Stamped PDFs: the original bytes and the QR links of a stamp checked byte for byte."""

from __future__ import annotations

import logging

from verifier.payload import PayloadError, PayloadView, parse_code
from verifier.result import Verdict
from verifier.run import Stop

log = logging.getLogger("verifier.verify")


def stamped_codes(data: bytes) -> tuple[bytes, list[str]] | None:
    """(original bytes, QR URLs) of a stamped PDF; None when the bytes are not one.

    The stamp is checked completely (`notary.pdf.stamp.check_stamp`: made again from its links,
    byte for byte), so the URLs are what the drawn codes hold and the pages show the
    original. Any difference, and pages whose codes do not agree (`_check_pages_agree`),
    raises `Stop(TAMPERED)`; a link that is not a valid code raises `Stop(INVALID_CODE)`.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        return None
    if not bytes(data[:1024]).lstrip().startswith(b"%PDF"):
        return None
    from notary.pdf import stamp  # pypdf only for PDFs

    try:
        checked = stamp.check_stamp(bytes(data))
    except stamp.StampMismatch as exc:
        raise Stop(Verdict.TAMPERED, f"the stamped file was altered: {exc}") from None
    except Exception as exc:  # not stamped, or not a PDF at all: check the bytes as they are
        log.debug("not a stamped PDF: %s", exc)
        return None
    _check_pages_agree(checked.urls)
    return checked.original, checked.urls


def _check_pages_agree(urls: list[str]) -> None:
    """Page i of n must carry a code for page i of n of one revision: the same chain,
    registry, record, version, leaf and salt on every page (docs/qr-payload.md)."""
    views: list[PayloadView] = []
    for number, url in enumerate(urls, start=1):
        try:
            views.append(parse_code(url))
        except PayloadError as exc:
            raise Stop(
                Verdict.INVALID_CODE, f"page {number}'s code is not a valid code: {exc}"
            ) from None

    def revision(view: PayloadView) -> tuple[object, ...]:
        v = view
        return (v.chain_id, v.registry_prefix, v.record_id, v.version, v.leaf_prefix, v.salt)

    for number, view in enumerate(views, start=1):
        if revision(view) != revision(views[0]):
            raise Stop(
                Verdict.TAMPERED,
                f"page {number}'s code names another record or version than page 1's",
            )
        if (view.page, view.page_count) != (number, len(urls)):
            raise Stop(
                Verdict.TAMPERED,
                f"page {number} of {len(urls)} carries the code of page "
                f"{view.page} of {view.page_count}",
            )
