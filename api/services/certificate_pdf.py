"""The certificate PDF the service renders when an office supplies no document of its own.

The holder data is masked on its face (ID numbers as `110105********1234`, addresses cut to
community level). Rendering is deterministic, so the same inputs give the same bytes, whose
salted hash is the certificate's `contentHash` (`notary.formats.certificate`).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import Any

from notary.pii.text import mask_text

CJK_FONT = "STSong-Light"


def masked_holder(holder: Mapping[str, Any]) -> dict[str, str]:
    """Holder data as printed on a certificate's face: every value through the PII masker.

    ID, mobile and bank card numbers keep only their ends; street addresses are cut to
    community level. Non-text values are shown as compact JSON, masked the same way.
    """
    out: dict[str, str] = {}
    for key, value in holder.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        out[str(key)] = mask_text(text)[0]
    return out


def render_certificate_pdf(
    holder: Mapping[str, Any],
    *,
    title: str,
    office: str,
    valid_from: str | None = None,
    valid_until: str | None = None,
) -> bytes:
    """A one-page A4 certificate PDF showing the holder data masked (deterministic bytes)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, invariant=1)
    pdf.setTitle(title)
    pdf.setCreator("disclosure-notary")
    width, height = A4
    y = height - 110
    pdf.setFont(CJK_FONT, 22)
    pdf.drawCentredString(width / 2, y, title)
    y -= 30
    pdf.setFont(CJK_FONT, 12)
    pdf.drawCentredString(width / 2, y, office)
    y -= 50
    pdf.setFont(CJK_FONT, 13)
    for key, value in masked_holder(holder).items():
        for line in _wrap(f"{key}: {value}", 48):
            pdf.drawString(80, y, line)
            y -= 22
        if y < 160:
            break
    y -= 20
    pdf.setFont(CJK_FONT, 11)
    if valid_from or valid_until:
        pdf.drawString(80, y, f"有效期 Valid: {valid_from or '—'} ~ {valid_until or '—'}")
        y -= 20
    pdf.drawString(80, 100, "本证书内容已在政务公证链上登记 · Anchored on the notary chain")
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def _wrap(text: str, width: int) -> list[str]:
    return [text[i : i + width] for i in range(0, len(text), width)] or [""]
