"""The work of stamping and of checking a stamp is bounded before it starts: a small file
whose pages all share one huge `/Annots` array (each page's stamped copy would hold and walk
it again) is refused from a count taken before the walk. Real hand-written PDFs, the real
stamper, the real service on a real anvil."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient

from notary.pdf.bounds import MAX_STAMP_ENTRIES, EntryBudget, PdfTooLarge
from notary.pdf.stamp import PdfRejected, StampMismatch, check_stamp, stamp_pdf
from verifier.chainsource import RegistryPool

TOO_MANY = "too many annotations, resources or content streams"


def shared_annots_original(refs: int, pages: int) -> bytes:
    """A PDF of `pages` pages that all share one `/Annots` array of `refs` references."""
    objs = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids ["
        + b" ".join(b"%d 0 R" % (10 + i) for i in range(pages))
        + b"] /Count %d >>" % pages,
        3: b"<< /Type /Annot /Subtype /Square /Rect [0 0 1 1] >>",
        4: b"<< /Length 0 >>\nstream\n\nendstream",
        5: b"[" + b"3 0 R " * refs + b"]",
    }
    for i in range(pages):
        objs[10 + i] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R /Annots 5 0 R >>"
        )
    out, offsets = bytearray(b"%PDF-1.7\n"), {}
    for n in sorted(objs):
        offsets[n] = len(out)
        out += b"%d 0 obj\n" % n + objs[n] + b"\nendobj\n"
    size = max(objs) + 1
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for n in range(1, size):
        out += (b"%010d 00000 n \n" % offsets[n]) if n in offsets else b"0000000000 65535 f \n"
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref)
    return bytes(out)


def forged_stamp(original: bytes, pages: int, first: int) -> bytes:
    """A "stamped" copy as a forger writes it by hand: valid marker, chained update, matching
    SHA-256, one small link per page (so reading the links is cheap; the rebuild is not)."""
    length = len(original)
    xref = int(original.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    update = bytearray(
        b"\n%%DisclosureNotaryStamp/2 original-length=%d original-sha256=%s corner=bottom-right\n"
        % (length, hashlib.sha256(original).hexdigest().encode())
    )
    offsets, nxt = {}, first
    for i in range(pages):
        link, nxt = nxt, nxt + 1
        offsets[link] = length + len(update)
        update += (
            b"%d 0 obj\n<< /Type /Annot /Subtype /Link /Rect [0 0 10 10] "
            b"/NM (DisclosureNotaryStamp p%d) /A << /S /URI /URI (https://x.example/v/AAAA) >> >>"
            b"\nendobj\n" % (link, i + 1)
        )
        offsets[10 + i] = length + len(update)
        update += (
            b"%d 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R "
            b"/Annots [%d 0 R] >>\nendobj\n" % (10 + i, link)
        )
    at = length + len(update)
    update += b"xref\n"
    for n in sorted(offsets):
        update += b"%d 1\n%010d 00000 n \n" % (n, offsets[n])
    update += b"trailer\n<< /Size %d /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (
        nxt,
        xref,
        at,
    )
    return original + bytes(update)


# 2,000 references shared by 200 pages: 400,000 entries to copy, in a 40 kB original.
BOMB_REFS, BOMB_PAGES = 2_000, 200


def url(page: int, pages: int) -> str:
    return f"https://verify.gov.example/v/page-{page}-of-{pages}"


def test_the_entry_budget_refuses_before_the_work_past_its_limit() -> None:
    budget = EntryBudget(limit=10)
    budget.take(10)
    with pytest.raises(PdfTooLarge, match="over 10 entries"):
        budget.take(1)
    assert MAX_STAMP_ENTRIES < BOMB_REFS * BOMB_PAGES


def test_stamping_pages_that_share_a_huge_annotation_array_is_refused() -> None:
    original = shared_annots_original(BOMB_REFS, BOMB_PAGES)
    assert len(original) < 50_000  # a small upload
    with pytest.raises(PdfRejected, match=TOO_MANY):
        stamp_pdf(original, make_payload=url)


def test_a_hand_made_stamp_over_a_shared_annotation_array_is_refused_by_the_check() -> None:
    original = shared_annots_original(BOMB_REFS, BOMB_PAGES)
    forged = forged_stamp(original, BOMB_PAGES, first=10 + BOMB_PAGES)
    with pytest.raises(StampMismatch, match=TOO_MANY):
        check_stamp(forged)


def test_a_shared_annotation_array_within_the_budget_still_stamps_and_checks() -> None:
    # The shared array is vetted once, not once per page, and each page's copy keeps it.
    original = shared_annots_original(50, 20)
    stamped = stamp_pdf(original, make_payload=url)
    checked = check_stamp(stamped)
    assert checked.original == original and checked.urls == [url(p, 20) for p in range(1, 21)]


def test_an_anonymous_upload_of_the_bomb_is_a_tampered_verdict(verifier_registry, tmp_path) -> None:
    from api.core.settings import Settings
    from api.main import create_app

    app = create_app(Settings(data_dir=tmp_path))
    app.state.verify_trust = verifier_registry.trust()
    app.state.verify_connect = RegistryPool()
    original = shared_annots_original(BOMB_REFS, BOMB_PAGES)
    forged = forged_stamp(original, BOMB_PAGES, first=10 + BOMB_PAGES)
    with TestClient(app) as client:
        r = client.post(
            "/verify",
            files={"file": ("notice.pdf", forged, "application/pdf")},
            headers={"Accept": "application/json"},
        )
    body = r.json()
    assert body["verdict"] == "tampered" and TOO_MANY in body["reason"]
