"""PII guard: detection, masking, documents (PDF, XML, text) and unsafe XML, on generated data.

Valid ID and card numbers are computed here with the published algorithms (GB 11643-1999
MOD 11-2, Luhn), independently of `notary.pii`, and checked against the standard's own
sample numbers, so a wrong implementation cannot agree with itself.
"""

from __future__ import annotations

import dataclasses
import io
import random
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from notary.errors import InvalidInput
from notary.pii import (
    Finding,
    MaskingUnsupported,
    PiiKind,
    UnreadableDocument,
    UnsafeXml,
    UnsupportedDocument,
    is_resident_id,
    luhn_valid,
    mask_document,
    mask_text,
    resident_id_check_digit,
    scan_document,
    scan_text,
)
from notary.pii import text as pii_text
from notary.pii.numbers import normalise

# ---------------------------------------------------------------- generators (independent)

GB11643_SAMPLES = ("11010519491231002X", "440524188001010014")  # from GB 11643-1999 itself
REGIONS = ("110105", "440524", "310101", "320106", "510104", "650102", "810000", "830000")


def check_char(body17: str) -> str:
    """ISO 7064 MOD 11-2 as GB 11643-1999 states it: sum(a_i * 2^(i-1) mod 11)."""
    total = sum(int(d) * (2 ** (18 - i) % 11) for i, d in enumerate(body17, start=1))
    return "10X98765432"[total % 11]


def make_id(region: str = "110105", born: str = "19900307", seq: str = "123") -> str:
    body = region + born + seq
    return body + check_char(body)


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    """A Luhn-valid number of `length` digits that starts with `prefix`."""
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    for last in "0123456789":
        digits = [int(c) for c in body + last]
        total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2)
                    for i, d in enumerate(reversed(digits)))  # fmt: skip
        if total % 10 == 0:
            return body + last
    raise AssertionError("unreachable")


def kinds(findings: list[Finding]) -> list[str]:
    return [f.kind.value for f in findings]


# ---------------------------------------------------------------- resident ID numbers


@pytest.mark.parametrize("number", GB11643_SAMPLES)
def test_published_sample_ids_are_valid_and_found(number: str) -> None:
    assert check_char(number[:17]) == number[17]
    assert resident_id_check_digit(number[:17]) == number[17]
    assert is_resident_id(number)
    [finding] = scan_text(f"身份证号：{number}。")
    assert finding.kind is PiiKind.ID_CARD
    assert finding.span == (5, 23)
    assert finding.masked_preview == f"{number[:6]}********{number[-4:]}"


def test_generated_ids_agree_with_the_independent_check_digit() -> None:
    rng = random.Random(11643)
    for _ in range(500):
        born = date(1930, 1, 1) + timedelta(days=rng.randrange(30_000))
        body = f"{rng.choice(REGIONS)}{born:%Y%m%d}{rng.randrange(1000):03d}"
        assert resident_id_check_digit(body) == check_char(body)
        assert is_resident_id(body + check_char(body))


def test_every_wrong_check_digit_is_not_an_id() -> None:
    number = make_id()
    for wrong in sorted(set("0123456789X") - {number[-1]}):
        candidate = number[:17] + wrong
        assert not is_resident_id(candidate)
        assert scan_text(f"号码 {candidate} 。") == []


def test_lower_case_x_check_digit_is_found() -> None:
    [finding] = scan_text("证件 11010519491231002x")
    assert finding.masked_preview == "110105********002X"


@pytest.mark.parametrize(
    ("region", "born"),
    [
        ("110105", "19901301"),  # month 13
        ("110105", "19900230"),  # 30 February
        ("110105", "18000101"),  # before 1850
        ("110105", "29990101"),  # in the future
        ("990105", "19900101"),  # no province 99
        ("000105", "19900101"),  # no province 00
        ("110005", "19900101"),  # a province with city 00
    ],
)
def test_implausible_region_or_birth_date_is_not_an_id(region: str, born: str) -> None:
    number = make_id(region, born)
    assert not is_resident_id(number)
    assert scan_text(number) == []


def test_id_inside_a_longer_digit_run_is_not_flagged() -> None:
    number = make_id()
    for text in (f"1{number}", f"{number}7", f"00{number}00", f"编号{number}5号"):
        assert scan_text(text) == [], text


def test_id_next_to_letters_and_punctuation_is_flagged() -> None:
    number = make_id()
    for text in (f"ID{number}", f"({number})", f"{number}号", f"证号:{number}\n"):
        assert kinds(scan_text(text)) == ["id_card"], text


def test_full_width_id_is_found_and_masked_in_its_own_width() -> None:
    number = make_id()
    wide = number.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789X"})
    masked, [finding] = mask_text(f"身份证：{wide}")
    assert finding.masked_preview == f"{number[:6]}********{number[-4:]}"
    assert masked == f"身份证：{wide[:6]}********{wide[-4:]}"


# ---------------------------------------------------------------- mobile numbers


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138 **** 5678"),
        ("138-1234-5678", "138-****-5678"),
        ("+86 138 1234 5678", "+86 138 **** 5678"),
        ("+86-13812345678", "+86-138****5678"),
        ("+8613812345678", "+86138****5678"),
        ("0086 13812345678", "0086 138****5678"),
        ("(+86)13812345678", "(+86)138****5678"),
        ("１３８１２３４５６７８", "１３８****５６７８"),
        ("19912345678", "199****5678"),
    ],
)
def test_mobile_formats_are_found_and_masked(text: str, masked: str) -> None:
    out, [finding] = mask_text(f"电话：{text}。")
    assert finding.kind is PiiKind.MOBILE
    assert out == f"电话：{masked}。"
    digits = "".join(c for c in text if c.isdigit())[-11:]
    assert finding.masked_preview == f"{digits[:3]}****{digits[-4:]}".translate(
        {c: c - 0xFEE0 for c in range(0xFF10, 0xFF1A)}
    )


@pytest.mark.parametrize(
    "text",
    [
        "12812345678",  # second digit 2 is no mobile network
        "1381234567",  # 10 digits
        "138123456789",  # 12 digits
        "8613812345678",  # inside a longer digit run
        "413812345678",
        "010-12345678",  # a landline
        "0571-87654321",
        "138****5678",  # already masked
    ],
)
def test_non_mobile_numbers_are_not_flagged(text: str) -> None:
    assert scan_text(f"号码{text}。") == []


# ---------------------------------------------------------------- bank card numbers


@pytest.mark.parametrize("number", ["4111111111111111", "5500000000000004", "6200000000000005"])
def test_well_known_test_card_numbers_are_found(number: str) -> None:
    assert luhn_valid(number)
    [finding] = scan_text(f"卡号{number}")
    assert finding.kind is PiiKind.BANK_CARD
    assert finding.masked_preview == f"{number[:6]}{'*' * (len(number) - 10)}{number[-4:]}"


@pytest.mark.parametrize("length", [16, 17, 18, 19])
def test_luhn_valid_cards_are_found_and_one_digit_off_is_not(length: int) -> None:
    rng = random.Random(length)
    for _ in range(50):
        number = luhn_complete(rng.choice(["62", "4", "9558", "52"]), length, rng)
        if is_resident_id(number):
            continue
        assert kinds(scan_text(f"账号 {number} 。")) == ["bank_card"]
        wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
        assert not luhn_valid(wrong)
        assert scan_text(f"账号 {wrong} 。") == []


def test_spaced_and_dashed_cards_are_masked_keeping_their_layout() -> None:
    number = luhn_complete("622202", 19, random.Random(1))
    spaced = " ".join(number[i : i + 4] for i in range(0, 19, 4))
    out, [finding] = mask_text(f"卡号：{spaced}")
    assert finding.masked_preview == f"{number[:6]}*********{number[-4:]}"
    assert out == f"卡号：{number[:4]} {number[4:6]}** **** ***{number[15]} {number[16:]}"
    number16 = luhn_complete("4", 16, random.Random(2))
    dashed = "-".join(number16[i : i + 4] for i in range(0, 16, 4))
    assert kinds(scan_text(dashed)) == ["bank_card"]


def test_cards_inside_longer_digit_runs_or_with_unlikely_prefixes_are_not_flagged() -> None:
    rng = random.Random(7)
    number = luhn_complete("62", 16, rng)
    assert scan_text(f"9{number}") == []
    assert scan_text(f"{number}0000") == []
    assert scan_text(luhn_complete("1", 16, rng)) == []  # no card network starts with 1
    assert scan_text(luhn_complete("7", 18, rng)) == []


def test_an_id_that_is_also_luhn_valid_is_reported_once_as_an_id() -> None:
    rng = random.Random(3)
    while True:
        number = make_id(
            "440524", f"19{rng.randint(50, 99)}0{rng.randint(1, 9)}15", f"{rng.randint(0, 999):03d}"
        )
        if number[-1] != "X" and luhn_valid(number):
            break
    assert kinds(scan_text(number)) == ["id_card"]


# ---------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        (
            "北京市朝阳区建外街道永安里社区光华路5号院3号楼2单元501室",
            "北京市朝阳区建外街道永安里社区***",
        ),
        ("上海市黄浦区南京东路100号", "上海市黄浦区***"),
        ("上海市长宁区华阳路街道长乐路123弄45号", "上海市长宁区华阳路街道***"),
        ("杭州市上城区湖滨街道福州路12号", "杭州市上城区湖滨街道***"),
        ("北京市海淀区中关村大街27号", "北京市海淀区***"),
        ("成都市武侯区人民南路二段12号", "成都市武侯区***"),
        ("浙江省杭州市西湖区三墩镇王家村3组15号", "浙江省杭州市西湖区三墩镇王家村***"),
        ("朝阳区劲松街道劲松社区3栋2单元201室", "朝阳区劲松街道劲松社区***"),
        ("广州市天河区阳光花园5幢1单元302室", "广州市天河区***"),
        ("南京市鼓楼区宁海路街道北京西路12-3号", "南京市鼓楼区宁海路街道***"),
    ],
)
def test_street_level_addresses_are_cut_to_community_level(address: str, masked: str) -> None:
    out, [finding] = mask_text(f"住址：{address}。")
    assert finding.kind is PiiKind.ADDRESS
    assert out == f"住址：{masked}。"
    assert finding.masked_preview == masked


@pytest.mark.parametrize(
    "text",
    [
        "北京市朝阳区建外街道永安里社区",
        "浙江省杭州市西湖区三墩镇王家村",
        "朝阳区人民政府关于光华路改造工程的通知",
        "国办发〔2024〕12号",
        "依据第3条第2款",
        "乘地铁1号线至建国门站",
        "请到政务服务中心3楼301室办理",  # an office room: no building or unit given
        "全长5公里",
    ],
)
def test_community_level_and_non_address_text_is_not_flagged(text: str) -> None:
    assert scan_text(text) == []


def test_address_preview_never_contains_the_house_number() -> None:
    [finding] = scan_text("申请人住北京市朝阳区光华路5号院3号楼2单元501室")
    assert finding.masked_preview == "北京市朝阳区***"
    assert "5" not in finding.masked_preview


# ---------------------------------------------------------------- findings


def test_findings_are_frozen_and_carry_no_raw_value() -> None:
    number = make_id()
    [finding] = scan_text(number, page=3)
    assert finding.page == 3
    assert number not in repr(finding)
    assert number not in str(finding.as_dict())
    assert finding.as_dict() == {
        "kind": "id_card",
        "page": 3,
        "location": None,
        "start": 0,
        "end": 18,
        "masked_preview": f"{number[:6]}********{number[-4:]}",
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.page = 1  # type: ignore[misc]


def test_mask_text_reports_findings_in_order_with_offsets_into_the_input() -> None:
    number, mobile = make_id(), "13812345678"
    text = f"甲{mobile}乙{number}丙北京市朝阳区光华路5号"
    masked, findings = mask_text(text)
    assert kinds(findings) == ["mobile", "id_card", "address"]
    assert [text[f.start : f.end] for f in findings[:2]] == [mobile, number]
    assert masked == f"甲138****5678乙{number[:6]}********{number[-4:]}丙北京市朝阳区***"


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


# ---------------------------------------------------------------- plain text and formats


@pytest.mark.parametrize(
    ("encode", "content_type"),
    [
        (lambda s: s.encode("utf-8"), "text/plain"),
        (lambda s: s.encode("gb18030"), "text/plain"),
        (lambda s: s.encode("gbk"), "text/plain; charset=GBK"),
        (lambda s: b"\xef\xbb\xbf" + s.encode("utf-8"), None),
        (lambda s: b"\xff\xfe" + s.encode("utf-16-le"), "text/plain"),
    ],
)
def test_plain_text_is_masked_in_its_own_encoding(encode, content_type: str | None) -> None:
    number = make_id()
    text = f"申请人身份证号码{number}，手机13812345678，住上海市黄浦区南京东路100号。\r\n"
    data = encode(text)
    assert kinds(scan_document(data, content_type)) == ["id_card", "mobile", "address"]
    masked = mask_document(data, content_type)
    masked_id = f"{number[:6]}********{number[-4:]}"
    want = f"申请人身份证号码{masked_id}，手机138****5678，住上海市黄浦区***。\r\n"
    assert masked == encode(want)
    assert scan_document(masked, content_type) == []


def test_unsupported_formats_are_refused_not_passed() -> None:
    with pytest.raises(UnsupportedDocument):
        scan_document(b"\x89PNG\r\n\x1a\n\x00\x00", "image/png")
    with pytest.raises(UnsupportedDocument):
        scan_document(b"PK\x03\x04", filename="certificate.ofd")
    with pytest.raises(UnsupportedDocument):
        scan_document(bytes(range(128, 256)) * 4, "application/octet-stream")
    with pytest.raises(UnreadableDocument):
        scan_document(b"\xff\xfe\xfd", "text/plain; charset=utf-8")


def test_findings_work_with_the_api_guards_calling_convention() -> None:
    data = "手机13812345678".encode()
    findings = scan_document(data, "text/plain")
    assert mask_document(data, "text/plain", findings) == "手机138****5678".encode()
    assert dataclasses.asdict(findings[0])["masked_preview"] == "138****5678"


# ---------------------------------------------------------------- properties

FILLER = st.text(
    alphabet="的路街号室栋单元社区村市区省北京朝阳光华 abX-+*()，。0123456789", max_size=12
)
SEPARATORS = st.sampled_from(["，", "。", "；", "\n", " 与 ", "："])


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date.today() - timedelta(days=1)))
    return make_id(
        draw(st.sampled_from(REGIONS)), born.strftime("%Y%m%d"), f"{draw(st.integers(0, 999)):03d}"
    )


@st.composite
def mobiles(draw: st.DrawFn) -> str:
    digits = f"1{draw(st.integers(3, 9))}{draw(st.integers(0, 10**9 - 1)):09d}"
    sep = draw(st.sampled_from(["", " ", "-"]))
    prefix = draw(st.sampled_from(["", "+86 ", "+86-", "0086", "(+86)"]))
    return f"{prefix}{digits[:3]}{sep}{digits[3:7]}{sep}{digits[7:]}"


@st.composite
def cards(draw: st.DrawFn) -> str:
    rng = random.Random(draw(st.integers(0, 2**32)))
    number = luhn_complete(
        draw(st.sampled_from(["62", "4", "9558", "35", "52"])), draw(st.integers(16, 19)), rng
    )
    sep = draw(st.sampled_from(["", " ", "-"]))
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


@st.composite
def addresses(draw: st.DrawFn) -> str:
    admin = draw(
        st.sampled_from(["北京市朝阳区", "上海市黄浦区", "广东省广州市天河区", "", "杭州市"])
    )
    office = draw(st.sampled_from(["", "建外街道", "湖滨街道永安里社区"]))
    road = draw(st.sampled_from(["光华", "人民", "中山", "建国", "福州", "解放"]))
    suffix = draw(st.sampled_from(["路", "街", "大街", "巷", "大道"]))
    house = f"{draw(st.integers(1, 999))}号"
    rest = draw(st.sampled_from(["", "3号楼2单元501室", "院5栋", "12-3-402"]))
    return f"{admin}{office}{road}{suffix}{house}{rest}"


CHUNKS = st.one_of(FILLER, resident_ids(), mobiles(), cards(), addresses())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(CHUNKS, SEPARATORS), max_size=8))
def test_masked_text_never_scans_dirty_and_never_holds_an_id(chunks: list[tuple[str, str]]) -> None:
    text = "".join(chunk + sep for chunk, sep in chunks)
    masked, findings = mask_text(text)
    assert scan_text(masked) == []
    assert mask_text(masked) == (masked, [])
    for f in findings:
        if f.kind is PiiKind.ID_CARD:
            assert text[f.start : f.end] not in masked
    for chunk, _ in chunks:
        if is_resident_id(chunk):
            assert chunk not in masked


@settings(max_examples=100, deadline=None)
@given(resident_ids(), mobiles(), st.text(alphabet="&<>\"'\t\n 文字ab", max_size=8))
def test_masked_xml_stays_well_formed_and_clean(number: str, mobile: str, noise: str) -> None:
    def esc(s: str) -> str:
        return s.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")

    doc = f'<r a="{esc(noise)}{number}{esc(noise)}"><t>{esc(noise)}，{mobile}，{esc(noise)}</t></r>'
    masked = mask_document(doc.encode(), "application/xml")
    assert scan_document(masked, "application/xml") == []
    before, after = ET.fromstring(doc), ET.fromstring(masked)
    assert after.get("a") == mask_text(before.get("a"))[0]
    assert after.find("t").text == mask_text(before.find("t").text)[0]
    assert number not in masked.decode()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(CHUNKS, SEPARATORS), min_size=1, max_size=8))
def test_each_detector_skipped_only_where_it_cannot_match(chunks: list[tuple[str, str]]) -> None:
    # The scanner skips a detector when the text lacks what all its matches hold; that
    # pattern must be inside every hit the detector makes, or the skip would miss PII.
    text = "".join(chunk + sep for chunk, sep in chunks)
    normalised = normalise(text)
    for detect, needed in pii_text._DETECTORS:
        for hit in detect(text, normalised):
            assert needed.search(normalised, hit.start, hit.end), (detect.__name__, text)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-16", "utf-8", "gb18030"])
def test_an_id_number_is_found_in_every_text_encoding(codec: str) -> None:
    # UTF-16 without a BOM once read as "valid UTF-8" with a NUL beside every digit, so the
    # number was not seen and the release published.
    number = "11010519900307123" + resident_id_check_digit("11010519900307123")
    text = f"持卡人 {number} 已登记"
    [finding] = scan_document(text.encode(codec), "text/plain")
    assert finding.kind is PiiKind.ID_CARD
    masked = mask_document(text.encode(codec), "text/plain")
    assert number not in masked.decode(codec) and "已登记" in masked.decode(codec)


@pytest.mark.parametrize("content_type", ["text/plain; charset=utf-8", "application/xml"])
def test_text_with_nul_characters_is_unreadable(content_type: str) -> None:
    number = "11010519900307123" + resident_id_check_digit("11010519900307123")
    data = "\x00".join(f"<a>{number}</a>").encode()  # UTF-16-like, declared UTF-8
    with pytest.raises(UnreadableDocument, match="NUL"):
        scan_document(data, content_type)
