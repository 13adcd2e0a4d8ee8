"""The stamp's corner is the stamper's, not the holder's: a genuine original stamped again
with the genuine links in another corner rebuilds byte for byte, but its white square
covers what the original shows there (a "VOID" note), so it is tampered. Real reportlab
PDFs, the real stamper, PDFium renders, a real anvil and the real service."""

from __future__ import annotations

import io

import pypdfium2 as pdfium
import pytest
from fastapi.testclient import TestClient
from reportlab.pdfgen import canvas
from support.scan import HOST, publish

from notary.formats.qr_payload import verify_url
from notary.pdf.layout import CORNERS
from notary.pdf.stamp import STAMP_CORNER, StampMismatch, check_stamp, read_stamp_urls, stamp_pdf
from verifier.chainsource import RegistryPool
from verifier.result import Verdict
from verifier.verify import verify_file

NOTE_BOX = (18, 12, 90, 46)  # the note's area in points from the page's top-left corner


def noted_notice() -> bytes:
    """An A4 notice whose top-left corner holds a note, as letterheads and stamps do."""
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=(595, 842), invariant=1)
    pdf.setFont("Helvetica", 14)
    pdf.drawString(72, 700, "Payment notice: pay CNY 5,000 to the district office")
    pdf.setFont("Helvetica-Bold", 9)
    pdf.drawString(18, 842 - 30, "VOID")
    pdf.drawString(18, 842 - 42, "REF 2024-117")
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def erased_note_pixels(original: bytes, copy: bytes) -> int:
    """Pixels of the note dark in the original and white in `copy` (rendered at 2x)."""

    def render(data: bytes):
        return pdfium.PdfDocument(data)[0].render(scale=2).to_pil().convert("L")

    before, after = render(original), render(copy)
    x0, y0, x1, y1 = (2 * v for v in NOTE_BOX)
    return sum(
        1
        for x in range(x0, x1)
        for y in range(y0, y1)
        if before.getpixel((x, y)) < 128 and after.getpixel((x, y)) > 200
    )


@pytest.fixture
def case(verifier_registry):
    reg = verifier_registry
    original = noted_notice()
    _, payload = publish(reg, original)
    genuine = stamp_pdf(
        original, make_payload=lambda p, n: verify_url(HOST, payload.with_page(p, n))
    )
    urls = read_stamp_urls(genuine)
    moved = stamp_pdf(original, make_payload=lambda p, n: urls[p - 1], corner="top-left")
    return reg, original, genuine, moved


def test_a_stamp_moved_over_the_pages_content_is_tampered(case) -> None:
    reg, original, genuine, moved = case
    assert erased_note_pixels(original, genuine) == 0
    assert erased_note_pixels(original, moved) > 100  # the attack is real: the note is gone
    with pytest.raises(StampMismatch, match="top-left corner"):
        check_stamp(moved)
    result = verify_file(moved, reg.trust(), connect=RegistryPool())
    assert result.verdict is Verdict.TAMPERED and "corner" in result.reason
    assert verify_file(genuine, reg.trust(), connect=RegistryPool()).verdict.is_authentic


@pytest.mark.parametrize("corner", [c for c in CORNERS if c != STAMP_CORNER])
def test_only_the_stampers_corner_can_be_checked(corner) -> None:
    original = noted_notice()
    urls = ["https://verify.gov.example/v/p1"]
    with pytest.raises(StampMismatch, match=f"{corner} corner"):
        check_stamp(stamp_pdf(original, make_payload=lambda p, n: urls[0], corner=corner))
    assert (
        check_stamp(stamp_pdf(original, make_payload=lambda p, n: urls[0])).corner == STAMP_CORNER
    )


def test_an_upload_of_the_moved_stamp_is_tampered(case, tmp_path) -> None:
    from api.core.settings import Settings
    from api.main import create_app

    reg, _, genuine, moved = case
    app = create_app(Settings(data_dir=tmp_path))
    app.state.verify_trust = reg.trust()
    app.state.verify_connect = RegistryPool()
    app.state.verify_ttl = 0.0
    with TestClient(app) as client:
        post = lambda data: client.post(  # noqa: E731
            "/verify",
            files={"file": ("notice.pdf", data, "application/pdf")},
            headers={"Accept": "application/json"},
        ).json()
        assert post(genuine)["verdict"] == "authentic_current"
        assert post(moved)["verdict"] == "tampered"
