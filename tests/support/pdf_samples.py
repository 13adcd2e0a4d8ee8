"""Real PDFs for tests, made by two producers (reportlab and fpdf2) and edited with pypdf.

Every page drawn here keeps its ink inside a known margin (`MARGIN` points from each edge
of the visible area), so a test can check that a stamp placed in the margin covers nothing.
Reused by the stamping tests and by anyone who needs a realistic multi-page PDF.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from pypdf import PdfReader, PdfWriter
from pypdf.annotations import FreeText
from pypdf.generic import RectangleObject
from reportlab.lib.pagesizes import A4, landscape, letter
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

MARGIN = 72.0
CJK_FONT = "STSong-Light"
A0 = (2383.94, 3370.39)
TINY = (144.0, 144.0)

if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
    pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))


@dataclass(frozen=True)
class PageSpec:
    """One page: media size in points (before rotation) and its /Rotate."""

    size: tuple[float, float] = A4
    rotate: int = 0


def reportlab_pdf(
    pages: Sequence[PageSpec] = (PageSpec(),), *, title: str = "关于公开2024年度部门预算的说明"
) -> bytes:
    """A reportlab PDF with Chinese (STSong-Light) and Latin text inside `MARGIN`."""
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, invariant=1)
    pdf.setTitle(title)
    for number, spec in enumerate(pages, start=1):
        width, height = spec.size
        pdf.setPageSize((width, height))
        _draw_body(pdf, width, height, number, title)
        pdf.showPage()
    pdf.save()
    data = buf.getvalue()
    if any(spec.rotate for spec in pages):
        data = _with_rotation(data, [spec.rotate for spec in pages])
    return data


def _draw_body(pdf: canvas.Canvas, width: float, height: float, number: int, title: str) -> None:
    m = MARGIN if min(width, height) > 3 * MARGIN else min(width, height) / 4
    pdf.setLineWidth(0.8)
    pdf.rect(m, m, width - 2 * m, height - 2 * m)
    size = max(4.0, min(12.0, (width - 2 * m) / 30))
    y = height - m - 1.5 * size
    pdf.setFont(CJK_FONT, size)
    pdf.drawString(m + 4, y, f"{title} 第{number}页")
    pdf.setFont(CJK_FONT, size * 0.8)
    while y > m + 3 * size:
        y -= 1.6 * size
        pdf.drawString(
            m + 4, y, f"Page {number}: budget line {int(y)}, 预算科目 {int(y) * 13:,} 元"
        )


def _with_rotation(data: bytes, rotations: Sequence[int]) -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(data))
    for page, rotate in zip(writer.pages, rotations, strict=True):
        if rotate:
            page.rotate(rotate)
    return _write(writer)


def shifted_origin_pdf() -> bytes:
    """A page whose MediaBox starts at (100, 200) and whose CropBox is smaller still."""
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=(100 + 595, 200 + 842), invariant=1)
    pdf.translate(100, 200)
    _draw_body(pdf, 595, 842, 1, "原点平移的页面")
    pdf.showPage()
    pdf.save()
    writer = PdfWriter(clone_from=io.BytesIO(buf.getvalue()))
    page = writer.pages[0]
    page.mediabox = RectangleObject([100, 200, 100 + 595, 200 + 842])
    page.cropbox = RectangleObject([110, 210, 100 + 585, 200 + 832])
    return _write(writer)


def form_and_annotations_pdf() -> bytes:
    """An A4 page with an AcroForm (text field, checkbox) and a link and a text note."""
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, invariant=1)
    width, height = A4
    _draw_body(pdf, width, height, 1, "申请表")
    form = pdf.acroForm
    form.textfield(name="applicant", value="Zhang San", x=100, y=600, width=200, height=20)
    form.checkbox(name="agree", checked=True, x=100, y=560, size=14)
    pdf.linkURL("https://www.gov.example.cn/", (100, 500, 300, 520), relative=0)
    pdf.textAnnotation("审核意见：同意", Rect=(320, 500, 340, 520), relative=0)
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def with_incremental_update(data: bytes) -> bytes:
    """`data` plus a pypdf incremental update (a cross-reference stream) adding a note."""
    writer = PdfWriter(io.BytesIO(data), incremental=True)
    note = FreeText(text="已审阅 reviewed", rect=(100, 420, 300, 450))
    writer.add_annotation(page_number=0, annotation=note)
    writer.add_metadata({"/Subject": "reviewed copy"})
    return _write(writer)


def fpdf2_pdf(pages: int = 2) -> bytes:
    """A second producer: fpdf2, A4 portrait and letter landscape pages, Latin text."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt")
    for number in range(1, pages + 1):
        if number % 2:
            pdf.add_page(format="A4")
        else:
            pdf.add_page(format="letter", orientation="L")
        pdf.set_margins(MARGIN, MARGIN, MARGIN)
        pdf.set_auto_page_break(False)
        pdf.set_font("Helvetica", size=11)
        pdf.rect(MARGIN, MARGIN, pdf.w - 2 * MARGIN, pdf.h - 2 * MARGIN)
        pdf.set_xy(MARGIN + 4, MARGIN + 4)
        for line in range(int((pdf.h - 2 * MARGIN - 20) // 16)):
            pdf.set_x(MARGIN + 4)
            pdf.cell(0, 16, f"fpdf2 page {number}, line {line}: annual report", new_x="LMARGIN")
            pdf.ln(16)
    return bytes(pdf.output())


def encrypted_pdf(user_password: str = "") -> bytes:
    """A reportlab PDF encrypted with pypdf (AES-128); readable without a password if
    `user_password` is empty, as many "protected" government PDFs are."""
    writer = PdfWriter(clone_from=io.BytesIO(reportlab_pdf()))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-128")
    return _write(writer)


def many_pages_pdf(pages: int) -> bytes:
    """A long reportlab document: A4 pages full of Latin text (for the benchmark)."""
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, invariant=1)
    height = A4[1]
    for number in range(1, pages + 1):
        pdf.setFont("Helvetica", 10)
        y = height - MARGIN
        while y > MARGIN + 12:
            y -= 13
            pdf.drawString(MARGIN, y, f"Page {number}, line {int(y)}: final accounts of 2024, item")
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def _write(writer: PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def page_count(data: bytes) -> int:
    return len(PdfReader(io.BytesIO(data)).pages)


__all__ = [
    "A0",
    "A4",
    "MARGIN",
    "TINY",
    "PageSpec",
    "encrypted_pdf",
    "form_and_annotations_pdf",
    "fpdf2_pdf",
    "landscape",
    "letter",
    "many_pages_pdf",
    "page_count",
    "reportlab_pdf",
    "shifted_origin_pdf",
    "with_incremental_update",
]
