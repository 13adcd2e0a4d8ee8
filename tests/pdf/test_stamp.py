"""Stamping: the original stays a prefix, every page's code scans to its URL, nothing breaks.

PDFs come from two producers (reportlab, fpdf2) plus pypdf edits: Chinese text in
STSong-Light, rotated pages, odd sizes and origins, a form with annotations, an existing
incremental update, and encrypted and damaged files. Pages are rendered with pypdfium2 at
150 dpi and decoded with zxing-cpp.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable

import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image, ImageChops
from pypdf import PdfReader
from support import pdf_samples as samples
from support.pdf_samples import A0, A4, TINY, PageSpec, landscape, letter

from notary.errors import InvalidInput
from notary.formats.qr_payload import QrPayload, parse_verify_url, verify_url
from notary.pdf.stamp import (
    PdfRejected,
    StampMismatch,
    StampStyle,
    default_label,
    is_stamped,
    read_stamp_urls,
    recover_original,
    stamp_pdf,
)

HOST = "verify.gov.example.cn"
RECORD_ID = (7).to_bytes(4, "big") + hashlib.sha256(b"record").digest()[:28]
LEAF = hashlib.sha256(b"leaf").digest()
ODD_PAGES = [
    PageSpec(A4),
    PageSpec(letter, 90),
    PageSpec(landscape(A4), 180),
    PageSpec(A4, 270),
    PageSpec(TINY),
    PageSpec(landscape(letter)),
    PageSpec(A0, 90),
]


def payload_urls(version: int = 3, *, salt: bytes | None = None) -> Callable[[int, int], str]:
    def make(page: int, pages: int) -> str:
        payload = QrPayload.for_page(
            chain_id=31337,
            registry=bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3"),
            record_id=RECORD_ID,
            version=version,
            leaf=LEAF,
            page=page,
            pages=pages,
            salt=salt,
        )
        return verify_url(HOST, payload)

    return make


def render(data: bytes, index: int, dpi: float = 150) -> Image.Image:
    """Page `index` as displayed; pages larger than A2 only their bottom-right 300 pt."""
    page = pdfium.PdfDocument(data)[index]
    width, height = page.get_size()
    crop = (width - 300, 0, 0, height - 300) if width * height > 1191 * 1684 else (0, 0, 0, 0)
    return page.render(scale=dpi / 72, crop=crop).to_pil().convert("L")


def decoded_codes(image: Image.Image) -> list[zxingcpp.Barcode]:
    return zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)


def assert_stamped_correctly(original: bytes, stamped: bytes) -> None:
    """The contract, page by page: prefix, recovery, links, and a code that scans."""
    make = payload_urls()
    pages = samples.page_count(original)
    expected = [make(n, pages) for n in range(1, pages + 1)]
    assert stamped[: len(original)] == original
    assert recover_original(stamped) == original
    assert read_stamp_urls(stamped) == expected
    reader = PdfReader(io.BytesIO(stamped), strict=True)
    assert len(reader.pages) == pages
    for index in range(pages):
        codes = decoded_codes(render(stamped, index))
        assert [code.text for code in codes] == [expected[index]], f"page {index + 1}"


def link_rect(stamped: bytes, index: int = 0) -> list[float]:
    """The /Rect of the stamp's link (the code's square) on page `index`."""
    link = PdfReader(io.BytesIO(stamped)).pages[index]["/Annots"][-1].get_object()
    return [float(v) for v in link["/Rect"]]


def ink_under_stamp(original: bytes, stamped: bytes, index: int) -> int:
    """How many of the original's dark pixels lie in the box that stamping changed."""
    before = render(original, index, dpi=72)
    after = render(stamped, index, dpi=72)
    box = ImageChops.difference(before, after).getbbox()
    assert box is not None, "stamping changed nothing on the page"
    return sum(before.crop(box).histogram()[:200])


# ---------------------------------------------------------------------------------------
# The contract on many kinds of PDF
# ---------------------------------------------------------------------------------------


def test_reportlab_chinese_pdf_is_stamped_on_every_page() -> None:
    original = samples.reportlab_pdf([PageSpec(A4)] * 3)
    stamped = stamp_pdf(original, make_payload=payload_urls())
    assert_stamped_correctly(original, stamped)


def test_odd_sizes_and_rotations_scan_on_every_page() -> None:
    original = samples.reportlab_pdf(ODD_PAGES)
    stamped = stamp_pdf(original, make_payload=payload_urls())
    assert_stamped_correctly(original, stamped)


def test_second_producer_fpdf2_is_stamped() -> None:
    pytest.importorskip("fpdf")
    original = samples.fpdf2_pdf(3)
    stamped = stamp_pdf(original, make_payload=payload_urls())
    assert_stamped_correctly(original, stamped)
    for index in range(3):
        assert ink_under_stamp(original, stamped, index) == 0


def test_shifted_mediabox_and_cropbox_origin_is_respected() -> None:
    original = samples.shifted_origin_pdf()
    stamped = stamp_pdf(original, make_payload=payload_urls())
    assert_stamped_correctly(original, stamped)
    x0, y0, x1, _ = link_rect(stamped)
    # 14 pt inside the CropBox [110 210 685 1032], bottom-right.
    assert (x1, y0) == pytest.approx((685 - 14, 210 + 14))
    assert x1 - x0 == pytest.approx(56)


@pytest.mark.parametrize("index", [0, 1, 2, 3, 5])
def test_stamp_covers_no_content_where_the_margin_allows(index: int) -> None:
    original = samples.reportlab_pdf(ODD_PAGES)
    stamped = stamp_pdf(original, make_payload=payload_urls())
    assert ink_under_stamp(original, stamped, index) == 0


def test_form_fields_and_annotations_survive() -> None:
    original = samples.form_and_annotations_pdf()
    stamped = stamp_pdf(original, make_payload=payload_urls())
    assert_stamped_correctly(original, stamped)
    before, after = PdfReader(io.BytesIO(original)), PdfReader(io.BytesIO(stamped))
    assert after.get_fields() == before.get_fields()
    assert after.get_fields()["applicant"]["/V"] == "Zhang San"

    def annots(reader: PdfReader) -> list[tuple[int, str, list[float]]]:
        return [
            (ref.idnum, ref.get_object()["/Subtype"], [float(v) for v in ref.get_object()["/Rect"]])
            for ref in reader.pages[0].raw_get("/Annots")
        ]

    assert annots(after)[:-1] == annots(before)
    assert annots(after)[-1][1] == "/Link"

    def field_refs(reader: PdfReader) -> list[int]:
        return [ref.idnum for ref in reader.trailer["/Root"]["/AcroForm"].raw_get("/Fields")]

    assert field_refs(after) == field_refs(before)


def test_existing_incremental_update_is_kept() -> None:
    original = samples.with_incremental_update(samples.form_and_annotations_pdf())
    assert original.count(b"%%EOF") == 2
    stamped = stamp_pdf(original, make_payload=payload_urls())
    assert_stamped_correctly(original, stamped)
    assert stamped.count(b"%%EOF") == 3
    reader = PdfReader(io.BytesIO(stamped))
    assert reader.metadata is not None and reader.metadata["/Subject"] == "reviewed copy"
    subtypes = [a.get_object()["/Subtype"] for a in reader.pages[0]["/Annots"]]
    assert "/FreeText" in subtypes and subtypes[-1] == "/Link"


def test_update_mirrors_the_cross_reference_kind() -> None:
    table = samples.reportlab_pdf()
    stream = samples.with_incremental_update(table)  # pypdf appends a /XRef stream
    assert b"\ntrailer\n" in stamp_pdf(table, make_payload=payload_urls())[len(table) :]
    tail = stamp_pdf(stream, make_payload=payload_urls())[len(stream) :]
    assert b"/XRef" in tail and b"\ntrailer\n" not in tail


@pytest.mark.parametrize("corner", ["bottom-right", "bottom-left", "top-right", "top-left"])
@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_code_lands_in_the_chosen_corner_as_displayed(corner: str, rotate: int) -> None:
    original = samples.reportlab_pdf([PageSpec(A4, rotate)])
    stamped = stamp_pdf(original, make_payload=payload_urls(), corner=corner)  # type: ignore[arg-type]
    image = render(stamped, 0)
    [code] = decoded_codes(image)
    assert code.text == payload_urls()(1, 1)
    xs = [p.x for p in (code.position.top_left, code.position.bottom_right)]
    ys = [p.y for p in (code.position.top_left, code.position.bottom_right)]
    centre_x, centre_y = sum(xs) / 2 / image.width, sum(ys) / 2 / image.height
    assert (centre_x > 0.5) == corner.endswith("right")
    assert (centre_y > 0.5) == corner.startswith("bottom")
    assert code.orientation == 0  # upright as the reader sees the page


def test_label_is_real_text_in_chinese_and_english() -> None:
    stamped = stamp_pdf(samples.reportlab_pdf([PageSpec(A4)] * 2), make_payload=payload_urls())
    page = pdfium.PdfDocument(stamped)[1]
    text = page.get_textpage().get_text_range()
    assert "扫码验真 Verify at verify.gov.example.cn" in text
    assert "第 2/2 页 page 2/2" in text
    assert "记录 7-" in text and " v3" in text


def test_default_label_names_host_record_version_and_page() -> None:
    url = payload_urls(version=3)(2, 10)
    short = parse_verify_url(url).payload.short_id
    assert default_label(url, 2, 10) == (
        f"扫码验真 Verify at {HOST} · 记录 {short} v3 · 第 2/10 页 page 2/10"
    )
    assert default_label("https://other.example/x", 1, 1).startswith(
        "扫码验真 Verify at other.example"
    )


def test_custom_label_and_style_are_used() -> None:
    original = samples.reportlab_pdf()
    stamped = stamp_pdf(
        original,
        make_payload=payload_urls(),
        label_fn=lambda url, page, pages: f"Check me {page}/{pages}",
        style=StampStyle(qr_size=72, inset=20),
    )
    assert "Check me 1/1" in pdfium.PdfDocument(stamped)[0].get_textpage().get_text_range()
    rect = link_rect(stamped)
    assert rect == pytest.approx([595.2756 - 92, 20, 595.2756 - 20, 92], abs=1e-3)


def test_certificate_code_with_salt_scans() -> None:
    make = payload_urls(salt=bytes(range(32)))
    stamped = stamp_pdf(samples.reportlab_pdf(), make_payload=make)
    [code] = decoded_codes(render(stamped, 0))
    assert parse_verify_url(code.text).payload.salt == bytes(range(32))


def test_stamping_is_deterministic() -> None:
    original = samples.reportlab_pdf([PageSpec(A4), PageSpec(letter, 90)])
    first = stamp_pdf(original, make_payload=payload_urls())
    assert stamp_pdf(original, make_payload=payload_urls()) == first


def test_link_annotation_is_clickable_and_printable() -> None:
    stamped = stamp_pdf(samples.reportlab_pdf(), make_payload=payload_urls())
    link = PdfReader(io.BytesIO(stamped)).pages[0]["/Annots"][-1].get_object()
    assert link["/A"]["/S"] == "/URI" and link["/A"]["/URI"] == payload_urls()(1, 1)
    assert link["/F"] & 4
    assert "扫码验真" in link["/Contents"]


# ---------------------------------------------------------------------------------------
# Recovery
# ---------------------------------------------------------------------------------------


def test_recovered_original_has_the_original_hash() -> None:
    original = samples.reportlab_pdf([PageSpec(A4)] * 2)
    stamped = stamp_pdf(original, make_payload=payload_urls())
    assert hashlib.sha256(recover_original(stamped)).digest() == hashlib.sha256(original).digest()
    assert is_stamped(stamped) and not is_stamped(original)


def test_recovery_survives_a_later_incremental_update() -> None:
    original = samples.reportlab_pdf()
    stamped = stamp_pdf(original, make_payload=payload_urls())
    later = samples.with_incremental_update(stamped)  # e.g. someone annotates the copy
    assert recover_original(later) == original
    assert read_stamp_urls(later) == [payload_urls()(1, 1)]


def test_original_without_trailing_newline_is_recovered() -> None:
    original = samples.reportlab_pdf().rstrip(b"\n")
    assert original.endswith(b"%%EOF")
    stamped = stamp_pdf(original, make_payload=payload_urls())
    assert recover_original(stamped) == original
    assert_stamped_correctly(original, stamped)


def test_unstamped_pdf_has_no_original_to_recover() -> None:
    with pytest.raises(PdfRejected, match="not a stamped PDF"):
        recover_original(samples.reportlab_pdf())
    with pytest.raises(PdfRejected, match="not a stamped PDF"):
        read_stamp_urls(samples.reportlab_pdf())


def test_edited_original_part_is_reported_as_altered() -> None:
    original = samples.reportlab_pdf()
    stamped = bytearray(stamp_pdf(original, make_payload=payload_urls()))
    stamped[len(original) // 2] ^= 0x01
    with pytest.raises(StampMismatch, match="altered"):
        recover_original(bytes(stamped))


def test_marker_that_lies_about_the_length_is_not_trusted() -> None:
    original = samples.reportlab_pdf()
    stamped = stamp_pdf(original, make_payload=payload_urls())
    forged = stamped.replace(b"original-length=%d" % len(original), b"original-length=%d" % 100)
    with pytest.raises(PdfRejected):
        recover_original(forged)


def test_stamp_cut_off_from_its_original_is_refused() -> None:
    original = samples.reportlab_pdf()
    stamped = stamp_pdf(original, make_payload=payload_urls())
    with pytest.raises(PdfRejected):
        recover_original(stamped[len(original) :])


# ---------------------------------------------------------------------------------------
# Refusals: nothing is produced
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["", "secret"])
def test_encrypted_pdf_is_refused(password: str) -> None:
    with pytest.raises(PdfRejected, match="encrypted"):
        stamp_pdf(samples.encrypted_pdf(password), make_payload=payload_urls())


def _damaged() -> dict[str, bytes]:
    good = samples.reportlab_pdf([PageSpec(A4)] * 2)
    startxref = good.rindex(b"startxref")
    broken_pointer = good[:startxref] + b"startxref\n12\n%%EOF\n"
    root_at = good.index(b"/Type /Catalog")
    no_pages = good[:root_at] + b"/Type /Katalog" + good[root_at + 14 :]
    bad_kids = good.replace(b"/Kids [", b"/Kidz [")
    # Bytes inserted after the header: every xref offset is now wrong, startxref fixed up.
    shifted = good[:9] + b"%" + b"x" * 50 + b"\n" + good[9:]
    xref_at = shifted.rindex(b"\nxref\n") + 1
    shifted = shifted[: shifted.rindex(b"startxref")] + b"startxref\n%d\n%%%%EOF\n" % xref_at
    return {
        "empty": b"",
        "text": b"hello, this is not a PDF",
        "png": b"\x89PNG\r\n\x1a\n" + os.urandom(200),
        "truncated": good[: len(good) // 2],
        "no-eof": good.rstrip().removesuffix(b"%%EOF"),
        "startxref-into-nowhere": broken_pointer,
        "header-only": b"%PDF-1.7\n%%EOF\n",
        "garbage-after-header": b"%PDF-1.4\n" + os.urandom(4000) + b"\nstartxref\n9\n%%EOF\n",
        "catalog-without-pages": no_pages,
        "page-tree-garbled": bad_kids,
        "object-offsets-wrong": shifted,
    }


@pytest.mark.parametrize("name", list(_damaged()))
def test_damaged_or_non_pdf_input_is_refused(name: str) -> None:
    with pytest.raises(PdfRejected):
        stamp_pdf(_damaged()[name], make_payload=payload_urls())


def test_already_stamped_pdf_is_refused() -> None:
    stamped = stamp_pdf(samples.reportlab_pdf(), make_payload=payload_urls())
    with pytest.raises(PdfRejected, match="already"):
        stamp_pdf(stamped, make_payload=payload_urls())


def test_rewritten_stamped_pdf_is_refused() -> None:
    # Saved again by another tool: the marker is gone, the stamp's links are not.
    from pypdf import PdfWriter

    stamped = stamp_pdf(samples.reportlab_pdf(), make_payload=payload_urls())
    out = io.BytesIO()
    PdfWriter(clone_from=io.BytesIO(stamped)).write(out)
    with pytest.raises(PdfRejected, match="already"):
        stamp_pdf(out.getvalue(), make_payload=payload_urls())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"corner": "middle"}, "corner"),
        ({"make_payload": lambda page, pages: 42}, "make_payload"),
        ({"make_payload": lambda page, pages: "https://x.cn/v/ a"}, "make_payload"),
        ({"label_fn": lambda url, page, pages: None}, "label_fn"),
        ({"make_payload": lambda page, pages: "https://x.cn/" + "A" * 2100}, "make_payload"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict, message: str) -> None:
    arguments = {"make_payload": payload_urls(), **kwargs}
    with pytest.raises(InvalidInput, match=message):
        stamp_pdf(samples.reportlab_pdf(), **arguments)


def test_stamp_style_refuses_nonsense() -> None:
    with pytest.raises(InvalidInput):
        StampStyle(qr_size=2)
    with pytest.raises(InvalidInput):
        StampStyle(font_size=4, min_font_size=6)


# ---------------------------------------------------------------------------------------
# Layout details
# ---------------------------------------------------------------------------------------


def test_user_unit_keeps_the_physical_size() -> None:
    from pypdf import PdfWriter
    from pypdf.generic import FloatObject, NameObject

    writer = PdfWriter(clone_from=io.BytesIO(samples.reportlab_pdf()))
    writer.pages[0][NameObject("/UserUnit")] = FloatObject(2)
    out = io.BytesIO()
    writer.write(out)
    stamped = stamp_pdf(out.getvalue(), make_payload=payload_urls())
    x0, y0, x1, _ = link_rect(stamped)
    assert (x1 - x0, y0) == pytest.approx((28, 7))  # 56 pt and 14 pt at 2 pt per unit


def test_narrow_page_wraps_the_label_beside_the_code() -> None:
    original = samples.reportlab_pdf([PageSpec((300, 420))])
    stamped = stamp_pdf(original, make_payload=payload_urls())
    assert_stamped_correctly(original, stamped)
    text = pdfium.PdfDocument(stamped)[0].get_textpage().get_text_range()
    for part in ("扫码验真 Verify at verify.gov.example.cn", "记录 7-", "第 1/1 页 page 1/1"):
        assert part in text


def test_label_that_cannot_fit_is_left_out() -> None:
    from notary.pdf.layout import StampStyle as Style
    from notary.pdf.layout import cid_font, frame, layout_label

    tiny = frame((0, 0, 100, 100), 0, 1.0, Style())
    assert layout_label("扫码验真 Verify at verify.gov.example.cn", tiny, cid_font().width) == (
        [],
        0.0,
    )
    wide = frame((0, 0, 595, 842), 90, 1.0, Style())
    lines, size = layout_label("a · b · c", wide, cid_font().width)
    assert (lines, size) == (["a · b · c"], 6.5)
