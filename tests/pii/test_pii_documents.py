"""The PII guard on documents: PDF text layers and XML."""

from __future__ import annotations

import io
import random
import xml.etree.ElementTree as ET

import pytest
from pypdf import PdfReader, PdfWriter
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas
from support.pii_samples import GB11643_SAMPLES, luhn_complete, make_id

from notary.errors import InvalidInput
from notary.pii import (
    MaskingUnsupported,
    PiiKind,
    UnreadableDocument,
    UnsafeXml,
    mask_document,
    scan_document,
)

# ---------------------------------------------------------------- PDF


@pytest.fixture(scope="module")
def chinese_pdf() -> bytes:
    """Two pages in the built-in CID font STSong-Light; personal data only on page 2."""
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    pdf.setFont("STSong-Light", 12)
    pdf.drawString(72, 760, "关于2024年政府信息公开工作年度报告的说明")
    pdf.drawString(72, 740, "发文字号：国办发〔2024〕12号")
    pdf.showPage()
    pdf.setFont("STSong-Light", 12)
    pdf.drawString(72, 760, f"申请人身份证号：{GB11643_SAMPLES[0]}")
    pdf.drawString(72, 740, "住址：北京市朝阳区建外街道永安里社区光华路5号院3号楼2单元501室")
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def test_pdf_text_layer_findings_report_page_two(chinese_pdf: bytes) -> None:
    findings = scan_document(chinese_pdf, "application/pdf")
    assert [(f.page, f.kind.value) for f in findings] == [(2, "id_card"), (2, "address")]
    assert findings[0].masked_preview == "110105********002X"
    assert findings[1].masked_preview == "北京市朝阳区建外街道永安里社区***"


def test_pdf_is_recognised_without_a_content_type(chinese_pdf: bytes) -> None:
    assert len(scan_document(chinese_pdf)) == 2
    assert len(scan_document(chinese_pdf, "application/octet-stream", filename="a.pdf")) == 2


def hand_made_pdf(encoding: str, codes: bytes) -> bytes:
    """A one-page PDF showing `codes` in non-embedded STSong-Light with `encoding`, no ToUnicode."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        None,
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /"
        + encoding.encode()
        + b" /DescendantFonts [6 0 R] >>",
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> "
        b"/FontDescriptor 7 0 R /DW 1000 >>",
        b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 "
        b"/FontBBox [-25 -254 1000 880] /ItalicAngle 0 /Ascent 880 /Descent -120 "
        b"/CapHeight 880 /StemV 93 >>",
    ]
    stream = b"BT /F1 12 Tf 72 700 Td <" + codes.hex().encode() + b"> Tj ET"
    objects[3] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
    out = io.BytesIO(b"%PDF-1.4\n")
    out.seek(0, io.SEEK_END)
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.writelines(b"%010d 00000 n \n" % offset for offset in offsets)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("GBK-EUC-H", lambda s: s.encode("gbk")),
        ("UniGB-UCS2-H", lambda s: s.encode("utf-16-be")),
        # Identity-H codes are Adobe-GB1 CIDs (1-95 are ASCII): only the character
        # collection says what they mean. This is why the guard reads PDFs with PDFium.
        ("Identity-H", lambda s: b"".join((ord(c) - 31).to_bytes(2, "big") for c in s)),
    ],
)
def test_cid_font_text_without_tounicode_is_read(encoding: str, encode) -> None:
    text = "ID 11010519491231002X" if encoding == "Identity-H" else "身份证11010519491231002X"
    [finding] = scan_document(hand_made_pdf(encoding, encode(text)), "application/pdf")
    assert (finding.page, finding.kind) == (1, PiiKind.ID_CARD)


def test_pdf_masking_is_refused_with_a_clear_error(chinese_pdf: bytes) -> None:
    with pytest.raises(MaskingUnsupported, match="mask the personal data in the source") as err:
        mask_document(chinese_pdf, "application/pdf")
    assert isinstance(err.value, InvalidInput)


def test_malformed_and_encrypted_pdfs_are_unreadable(chinese_pdf: bytes) -> None:
    with pytest.raises(UnreadableDocument):
        scan_document(b"%PDF-1.7\nthis is not a pdf", "application/pdf")
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(chinese_pdf)))
    writer.encrypt(user_password="secret", owner_password="owner")
    encrypted = io.BytesIO()
    writer.write(encrypted)
    with pytest.raises(UnreadableDocument):
        scan_document(encrypted.getvalue(), "application/pdf")


# ---------------------------------------------------------------- XML

XML_DOC = """<?xml version="1.0" encoding="GB18030"?>
<!-- 政府信息公开申请登记表 -->
<申请表 编号="2024-001" xmlns:x="urn:example">
  <申请人 姓名="张三" 身份证号="{id}" 电话='+86 138-1234-5678'>
    <住址>北京市朝阳区建外街道永安里社区光华路5号院3号楼2单元501室</住址>
    <备注><![CDATA[银行卡 {card} <附件>]]></备注>
    <x:证件>{id_ref} &amp; 其他</x:证件>
  </申请人>
  <申请人 姓名="李四"/>
</申请表>
"""


def xml_fixture() -> tuple[bytes, str, str]:
    number = make_id("440524", "19850612", "031")
    card = luhn_complete("622202", 19, random.Random(5))
    text = XML_DOC.format(id=number, card=card, id_ref=f"&#{ord(number[0])};{number[1:]}")
    return text.encode("gb18030"), number, card


def test_xml_findings_in_text_attributes_cdata_and_character_references() -> None:
    data, _number, _card = xml_fixture()
    findings = scan_document(data, "application/xml")
    assert [(f.location, f.kind.value) for f in findings] == [
        ("/申请表/申请人/@身份证号", "id_card"),
        ("/申请表/申请人/@电话", "mobile"),
        ("/申请表/申请人/住址/text()", "address"),
        ("/申请表/申请人/备注/text()", "bank_card"),
        ("/申请表/申请人/x:证件/text()", "id_card"),
    ]
    assert all(f.page is None for f in findings)


def test_xml_masking_keeps_structure_and_encoding_and_scans_clean() -> None:
    data, number, card = xml_fixture()
    masked = mask_document(data, "text/xml")
    text = masked.decode("gb18030")
    assert number not in text
    assert card not in text
    assert number[1:] not in text
    assert text.startswith(
        '<?xml version="1.0" encoding="GB18030"?>\n<!-- 政府信息公开申请登记表 -->'
    )
    assert f'身份证号="{number[:6]}********{number[-4:]}"' in text
    assert "电话='+86 138-****-5678'" in text
    assert "<住址>北京市朝阳区建外街道永安里社区***</住址>" in text
    assert f"<![CDATA[银行卡 {card[:6]}*********{card[-4:]} <附件>]]>" in text
    assert '<申请人 姓名="李四"/>' in text
    assert scan_document(masked, "application/xml") == []
    before = ET.fromstring(data.decode("gb18030"))  # ElementTree cannot read GB18030 bytes
    after = ET.fromstring(text)
    assert [(e.tag, sorted(e.attrib)) for e in before.iter()] == [
        (e.tag, sorted(e.attrib)) for e in after.iter()
    ]
    assert after.find("申请人").get("姓名") == "张三"


def test_xml_without_personal_data_is_returned_byte_for_byte() -> None:
    data = '<?xml version="1.0"?>\r\n<a b="c &amp; d">文本 &lt;x&gt;</a>'.encode()
    assert mask_document(data, "application/xml") == data


@pytest.mark.parametrize(
    "payload",
    [
        # billion laughs
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">'
        '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
        "]><lolz>&lol3;</lolz>",
        # XXE: an external general entity
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><r>&xxe;</r>',
        # XXE through a parameter entity
        '<!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><r/>',
        # an entity from an external DTD that is never fetched
        '<!DOCTYPE r SYSTEM "file:///etc/passwd"><r>&secret;</r>',
    ],
)
def test_entity_tricks_are_refused_cleanly(payload: str) -> None:
    with pytest.raises(UnsafeXml) as err:
        scan_document(payload.encode(), "application/xml")
    assert isinstance(err.value, InvalidInput)
    with pytest.raises(UnsafeXml):
        mask_document(payload.encode(), "application/xml")


def test_external_dtd_is_not_fetched_and_plain_content_is_still_scanned(tmp_path) -> None:
    dtd = tmp_path / "x.dtd"
    dtd.write_text('<!ENTITY phone "13812345678">')
    doc = f'<!DOCTYPE r SYSTEM "{dtd.as_uri()}"><r>无</r>'.encode()
    assert scan_document(doc, "application/xml") == []


def test_malformed_xml_is_unreadable() -> None:
    with pytest.raises(UnreadableDocument, match="malformed XML"):
        scan_document(b"<a><b></a>", "application/xml")
    with pytest.raises(UnreadableDocument, match="encoding"):
        scan_document(b'<?xml version="1.0" encoding="no-such-codec"?><a/>', "text/xml")
