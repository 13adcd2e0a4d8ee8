"""E-certificate commitments and the service-rendered certificate PDF (docs/formats.md,
"Certificate commitment").

A certificate carries personal data, so the chain must never let anyone confirm a guess
about it. Two salted commitments, one salt (32 random bytes, handed to the holder once):

    contentHash       = sha256(salt || exact bytes of the certificate document)
    holder_commitment = sha256(salt || RFC 8785 canonical JSON of the holder data)

`contentHash` goes on chain as the revision's content hash; `holder_commitment` goes into
the revision's metadata (so into `metadataHash`). Whoever holds the document and the salt
can prove the document (`cat salt.bin cert.pdf | sha256sum`) and, with the holder data,
prove that data too; nobody else learns anything from the chain.

The document is the office's own PDF/OFD/XML file if it supplied one, else a PDF rendered
here from the holder data with that data masked on its face (ID numbers as
`110105********1234`, addresses cut to community level). Rendering is deterministic, so the
same inputs give the same bytes.

Pure: no I/O. reportlab and the PII maskers are imported only when rendering.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping
from typing import Any

import rfc8785

SALT_LENGTH = 32
"""Length of the salt the service draws for a new certificate."""
SALT_LENGTHS = (16, 32)
"""Salt lengths a verifier accepts (the QR payload can carry either)."""

CJK_FONT = "STSong-Light"


def holder_commitment(salt: bytes, data: bytes) -> bytes:
    """`sha256(salt || data)`: the salted commitment of a certificate's exact bytes.

    The on-chain `contentHash` of a certificate is this over the document's bytes; the
    metadata's `holder_commitment` is this over the canonical holder JSON.
    """
    if not isinstance(salt, bytes) or len(salt) not in SALT_LENGTHS:
        raise ValueError("salt must be 16 or 32 bytes")
    h = hashlib.sha256(salt)
    h.update(data)
    return h.digest()


def canonical_holder(holder: Mapping[str, Any]) -> bytes:
    """RFC 8785 canonical JSON of the holder data (the preimage after the salt)."""
    return rfc8785.dumps(dict(holder))


def holder_data_commitment(salt: bytes, holder: Mapping[str, Any]) -> bytes:
    """`sha256(salt || RFC 8785 JSON of holder)`: the metadata's `holder_commitment`."""
    return holder_commitment(salt, canonical_holder(holder))


def masked_holder(holder: Mapping[str, Any]) -> dict[str, str]:
    """Holder data as printed on a certificate's face: every value through the PII masker.

    ID, mobile and bank card numbers keep only their ends; street addresses are cut to
    community level. Non-text values are shown as compact JSON, masked the same way.
    """
    from notary.pii.text import mask_text

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
