"""Sample Chinese PDFs, stamping with real verify URLs, rendering and print-and-scan wear."""

from __future__ import annotations

import io

import pypdfium2 as pdfium
import qrcode
from PIL import Image, ImageFilter
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from notary.formats.qr_payload import QrPayload, verify_url
from notary.pdf.stamp import stamp_pdf

HOST = "verify.example.gov.cn"
DPI = 150
PAGES = 3


def chinese_pdf(title: str, pages: int = PAGES, *, extra: str = "") -> bytes:
    """A multi-page A4 PDF with Chinese text (reportlab, STSong-Light)."""
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1)
    for n in range(1, pages + 1):
        c.setFont("STSong-Light", 20)
        c.drawString(72, 760, title)
        c.setFont("STSong-Light", 12)
        for i, line in enumerate(
            [
                f"第 {n} 页：关于二〇二六年度部门预算公开的说明{extra}",
                "一、部门基本情况：本部门负责全市政务服务和数据管理工作。",
                "二、收支预算总体情况：收入预算 1,234.56 万元，支出预算 1,234.56 万元。",
                "三、政府采购预算情况：政府采购预算 321.00 万元。",
            ]
        ):
            c.drawString(72, 720 - 22 * i, line)
        c.showPage()
    c.save()
    return buf.getvalue()


def stamp(data: bytes, payload: QrPayload) -> bytes:
    """Stamp every page with the real verify URL of `payload` for that page."""
    return stamp_pdf(
        data, make_payload=lambda page, pages: verify_url(HOST, payload.with_page(page, pages))
    )


def render_pages(pdf: bytes, dpi: int = DPI) -> list[Image.Image]:
    doc = pdfium.PdfDocument(pdf)
    try:
        return [page.render(scale=dpi / 72).to_pil().convert("RGB") for page in doc]
    finally:
        doc.close()


def degrade(img: Image.Image, *, scale=0.8, angle=2.0, blur=0.7, quality=50) -> bytes:
    """What printing, photographing and messaging do to a page, roughly."""
    img = img.resize((int(img.width * scale), int(img.height * scale)), Image.LANCZOS)
    img = img.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor="white")
    img = img.filter(ImageFilter.GaussianBlur(blur))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def qr_png(text: str) -> bytes:
    img = qrcode.make(text, error_correction=qrcode.constants.ERROR_CORRECT_M)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def publish(reg, data: bytes, *, record_id=None, **anchor_kw) -> tuple[bytes, QrPayload]:
    rid, version, leaf = reg.anchor(data, record_id=record_id, **anchor_kw)
    payload = QrPayload.for_page(
        chain_id=reg.chain_id,
        registry=reg.address,
        record_id=rid,
        version=version,
        leaf=leaf,
    )
    return rid, payload
