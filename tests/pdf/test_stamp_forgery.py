"""Forged stamps: a genuine original with a stamp update of the forger's own is tampered.

Anyone can download a public stamped PDF, keep its original bytes and marker line, and write
another update after them: the same links over a page painted with other text, a drawn code
that is not the link's, or codes of other pages. The file check (`verify_file`, used by
`verifier check`) and the API upload (`POST /verify`) both rebuild the stamp
(`notary.pdf.stamp.check_stamp`) and call any such copy tampered; the genuine copy stays
authentic and current.
"""

from __future__ import annotations

import pytest
from support.scan import HOST, chinese_pdf, publish

from notary.formats.qr_payload import verify_url
from notary.pdf import layout
from notary.pdf.stamp import (
    PdfRejected,
    StampMismatch,
    StampStyle,
    check_stamp,
    read_stamp_urls,
    stamp_pdf,
)
from verifier.chainsource import RegistryPool
from verifier.result import Verdict
from verifier.verify import verify_file

PAGES = 3
FORGED_TEXT = "请转账 CNY 5,000 至账户 6222 0000 1234 5678 · transfer CNY 5,000"


@pytest.fixture
def case(verifier_registry):
    """(registry, original, genuine stamped copy, page URL function) of a published PDF."""
    reg = verifier_registry
    original = chinese_pdf("采购结果公示", PAGES)
    _, payload = publish(reg, original)

    def page_url(page: int, pages: int) -> str:
        return verify_url(HOST, payload.with_page(page, pages))

    return reg, original, stamp_pdf(original, make_payload=page_url), page_url


def check(reg, data: bytes):
    return verify_file(data, reg.trust(), connect=RegistryPool())


def test_the_genuine_stamped_copy_is_authentic(case) -> None:
    reg, _, stamped, page_url = case
    assert check_stamp(stamped).urls == [page_url(p, PAGES) for p in range(1, PAGES + 1)]
    assert check(reg, stamped).verdict is Verdict.AUTHENTIC_CURRENT
    assert check(reg, stamped + b"\r\n \t").verdict is Verdict.AUTHENTIC_CURRENT


@pytest.mark.parametrize(
    "forgery",
    [
        {"label_fn": lambda url, page, pages: FORGED_TEXT},  # other text printed by the code
        {"style": StampStyle(qr_size=400, inset=0)},  # the page painted over in white
    ],
    ids=["other-text", "page-painted-over"],
)
def test_a_forged_stamp_update_with_the_same_links_is_tampered(case, forgery) -> None:
    reg, original, _, page_url = case
    forged = stamp_pdf(original, make_payload=page_url, **forgery)
    result = check(reg, forged)
    assert result.verdict is Verdict.TAMPERED, result
    assert "not the one the stamper makes" in result.reason


def test_a_drawn_code_of_another_record_under_the_genuine_link_is_tampered(
    case, monkeypatch
) -> None:
    reg, original, _, page_url = case
    other = publish(reg, chinese_pdf("另一份文件"))[1]
    genuine = [page_url(p, PAGES) for p in range(1, PAGES + 1)]

    def drawn(page: int, pages: int) -> str:
        return (
            verify_url(HOST, other.with_page(page, pages)) if page == 2 else page_url(page, pages)
        )

    # The forger's tool draws page 2's code for another record and links the genuine URL.
    real_link = layout.link_annotation
    monkeypatch.setattr(
        layout,
        "link_annotation",
        lambda url, *rest: real_link(genuine[1] if url == drawn(2, PAGES) else url, *rest),
    )
    forged = stamp_pdf(original, make_payload=drawn)
    monkeypatch.undo()
    assert read_stamp_urls(forged) == genuine  # what the old file check read
    result = check(reg, forged)
    assert result.verdict is Verdict.TAMPERED, result


def test_a_page_carrying_another_pages_code_is_tampered(case) -> None:
    reg, original, _, page_url = case
    swapped = stamp_pdf(original, make_payload=lambda page, pages: page_url(3 - page + 1, pages))
    assert check_stamp(swapped).urls[0] == page_url(3, PAGES)  # a well-made stamp: it rebuilds
    result = check(reg, swapped)
    assert result.verdict is Verdict.TAMPERED, result
    assert "page 1 of 3 carries the code of page 3 of 3" in result.reason


def test_every_edited_byte_of_the_stamp_update_is_refused(case) -> None:
    _, original, stamped, _ = case
    update = range(len(original), len(stamped))
    marker_end = stamped.index(b"\n", len(original) + 1) + 1
    for at in [*update[:: max(1, len(update) // 150)], len(stamped) - 1]:
        edited = bytearray(stamped)
        edited[at] ^= 0x20 if stamped[at] != 0x0A else 0x01
        expected = StampMismatch if at >= marker_end else PdfRejected
        with pytest.raises(expected):
            check_stamp(bytes(edited))


def test_upload_of_a_forged_stamped_pdf_says_tampered(case, tmp_path) -> None:
    from fastapi.testclient import TestClient

    from api.core.settings import Settings
    from api.main import create_app

    reg, original, stamped, page_url = case
    forged = stamp_pdf(
        original, make_payload=page_url, label_fn=lambda url, page, pages: FORGED_TEXT
    )
    app = create_app(Settings(data_dir=tmp_path))
    app.state.verify_trust = reg.trust()
    app.state.verify_connect = RegistryPool()
    app.state.verify_ttl = 0.0
    with TestClient(app) as client:
        genuine = client.post("/verify", files={"file": ("a.pdf", stamped, "application/pdf")})
        fake = client.post("/verify", files={"file": ("a.pdf", forged, "application/pdf")})
    assert 'data-verdict="authentic_current"' in genuine.text
    assert 'data-verdict="tampered"' in fake.text
