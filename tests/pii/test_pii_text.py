"""The PII guard on text: addresses, findings, plain-text encodings, formats and properties."""

from __future__ import annotations

import dataclasses
import random
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.pii_samples import REGIONS, kinds, luhn_complete, make_id

from notary.pii import (
    PiiKind,
    UnreadableDocument,
    UnsupportedDocument,
    is_resident_id,
    mask_document,
    mask_text,
    resident_id_check_digit,
    scan_document,
    scan_text,
)
from notary.pii import text as pii_text
from notary.pii.numbers import normalise

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
