"""The print-and-scan loop (the test that matters most), then the forged corpus.

A real multi-page Chinese PDF is anchored on anvil, stamped with real verify URLs, rendered
to PNG at 150 dpi, degraded as a phone photo of a printout would be (scaled down, slightly
rotated, blurred, JPEG at quality 50) and decoded by the verifier: every page must come out
authentic and current. Then every forgery in the corpus must never come out authentic.
"""

from __future__ import annotations

import base64
import hashlib
import io
import secrets

import pytest
from PIL import Image
from support import pdf_samples as samples
from support.scan import (
    HOST,
    PAGES,
    chinese_pdf,
    degrade,
    publish,
    qr_png,
    render_pages,
    stamp,
)

from notary.formats.qr_payload import QrPayload, encode, verify_url
from notary.pdf import stamp as stamp_module
from notary.pdf.stamp import changed_after_stamping, recover_original
from verifier.certificate import holder_commitment
from verifier.chainsource import RegistryPool
from verifier.result import Verdict
from verifier.verify import verify_file, verify_image, verify_image_each


@pytest.fixture
def reg(verifier_registry):
    return verifier_registry


@pytest.fixture
def connect():
    return RegistryPool()


# --- the loop ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wear",
    [
        {"scale": 1.0, "angle": 0.0, "blur": 0.0, "quality": 90},
        {"scale": 0.8, "angle": 2.0, "blur": 0.7, "quality": 50},
        {"scale": 0.7, "angle": -3.0, "blur": 0.5, "quality": 50},
    ],
    ids=["clean", "worn", "smaller-rotated"],
)
def test_every_printed_and_scanned_page_verifies_as_authentic_current(reg, connect, wear):
    original = chinese_pdf("二〇二六年度部门预算")
    rid, payload = publish(reg, original)
    stamped = stamp(original, payload)
    assert stamped.startswith(original)
    trust = reg.trust()
    whole = verify_file(stamped, trust, connect=connect)
    assert whole.verdict is Verdict.AUTHENTIC_CURRENT, whole
    assert whole.steps[0].name == "read_stamp"
    images = render_pages(stamped)
    assert len(images) == PAGES
    for number, page in enumerate(images, start=1):
        result = verify_image(degrade(page, **wear), trust, connect=connect)
        assert result.verdict is Verdict.AUTHENTIC_CURRENT, (number, result.reason)
        assert (result.page, result.page_count) == (number, PAGES)
        assert result.record_id == "0x" + rid.hex()
        assert result.office_name == reg.OFFICE_NAME


# --- the forged corpus ------------------------------------------------------------------------


def test_edited_bytes_with_the_original_code_are_tampered(reg, connect):
    original = chinese_pdf("采购结果公示")
    _, payload = publish(reg, original)
    stamped = stamp(original, payload)
    trust = reg.trust()
    # 1. One byte of the original part changed inside the stamped file.
    at = stamped.index(b"stream") + 10
    edited = stamped[:at] + bytes([stamped[at] ^ 0x01]) + stamped[at + 1 :]
    r = verify_file(edited, trust, connect=connect)
    assert r.verdict is Verdict.TAMPERED, r
    # 2. A re-typeset, edited document stamped with the original's verify URLs.
    forged = stamp(chinese_pdf("采购结果公示", extra="（中标金额已改）"), payload)
    r = verify_file(forged, trust, connect=connect)
    assert r.verdict is Verdict.TAMPERED, r
    assert any(s.name == "check_content" and s.status.value == "fail" for s in r.steps)


def test_a_copy_updated_after_stamping_is_not_authentic(reg, connect):
    # The original inside still matches the chain, but an update appended after the stamp
    # can paint anything over the pages a reader shows (here: a note; it could be figures).
    original = chinese_pdf("采购结果公示")
    _, payload = publish(reg, original)
    stamped = stamp(original, payload)
    updated = samples.with_incremental_update(stamped)
    assert recover_original(updated) == original and changed_after_stamping(updated)
    assert not changed_after_stamping(stamped + b"\n\n")
    r = verify_file(updated, reg.trust(), connect=connect)
    assert r.verdict is Verdict.TAMPERED and "after stamping" in r.reason, r
    assert verify_file(stamped, reg.trust(), connect=connect).verdict is Verdict.AUTHENTIC_CURRENT


def test_a_file_stuffed_with_stamp_markers_is_checked_a_bounded_number_of_times(reg, monkeypatch):
    # Each marker line that parses costs a scan of the rest of the file: without a bound, a
    # few MB of them held a verify worker for seconds to hours.
    original = chinese_pdf("采购结果公示")
    _, payload = publish(reg, original)
    stamped = stamp(original, payload)
    flood = bytearray(stamped)
    for _ in range(2_000):  # each marker line declares its own offset, so each one parses
        flood += stamp_module.MARKER_TAG + b"original-length=%d original-sha256=%s %s\n" % (
            len(flood),
            b"0" * 64,
            b"corner=bottom-right",
        )
    flood = bytes(flood)
    checked = []
    real = stamp_module.chained_update_end
    monkeypatch.setattr(
        stamp_module, "chained_update_end", lambda *a: checked.append(1) or real(*a)
    )
    with pytest.raises((stamp_module.StampMismatch, stamp_module.PdfRejected)):
        recover_original(flood)
    assert 0 < len(checked) <= stamp_module.MAX_MARKERS_TRIED


def test_code_copied_onto_another_document_is_tampered(reg, connect):
    real = chinese_pdf("行政许可决定书")
    _, payload = publish(reg, real)
    other = chinese_pdf("一份从未发布的文件")
    reg.anchor(b"unrelated")  # the chain has other content too
    r = verify_file(stamp(other, payload), reg.trust(), connect=connect)
    assert r.verdict is Verdict.TAMPERED


def test_code_naming_another_registry_or_chain_is_untrusted(reg, connect):
    original = chinese_pdf("政策解读")
    rid, _ = publish(reg, original)
    trust = reg.trust()
    leaf = reg.leaves[rid]
    forged_registry = QrPayload.for_page(
        chain_id=reg.chain_id,
        registry="0x" + secrets.token_hex(20),
        record_id=rid,
        version=1,
        leaf=leaf,
    )
    forged_chain = QrPayload.for_page(
        chain_id=reg.chain_id + 7, registry=reg.address, record_id=rid, version=1, leaf=leaf
    )
    for forged in (forged_registry, forged_chain):
        r = verify_file(stamp(original, forged), trust, connect=connect)
        assert r.verdict is Verdict.UNTRUSTED_ISSUER, r
        page = render_pages(stamp(original, forged))[0]
        assert verify_image(degrade(page), trust, connect=connect).verdict is (
            Verdict.UNTRUSTED_ISSUER
        )


def test_truncated_and_bit_flipped_codes_are_never_authentic(reg, connect):
    _, payload = publish(reg, b"any bytes")
    trust = reg.trust()
    url = verify_url(HOST, payload)
    assert verify_image(qr_png(url), trust, connect=connect).verdict is Verdict.AUTHENTIC_CURRENT
    raw = payload.to_bytes()
    forged_texts = [url[:-n] for n in (1, 4, 11, 30)]
    for i in range(0, len(raw) * 8, 7):
        flipped = bytearray(raw)
        flipped[i // 8] ^= 1 << (i % 8)
        forged_texts.append(
            f"https://{HOST}/v/" + base64.urlsafe_b64encode(flipped).rstrip(b"=").decode()
        )
    for text in forged_texts:
        r = verify_image(qr_png(text), trust, connect=connect)
        assert r.verdict is not Verdict.AUTHENTIC_CURRENT, text
    assert verify_image(qr_png(url[:-4]), trust, connect=connect).verdict is Verdict.INVALID_CODE


def test_revoked_record_scans_as_revoked(reg, connect):
    original = chinese_pdf("已撤销的通知")
    rid, payload = publish(reg, original)
    stamped = stamp(original, payload)
    reg.revoke(rid, "通知内容有误")
    trust = reg.trust()
    assert verify_file(stamped, trust, connect=connect).verdict is Verdict.REVOKED
    r = verify_image(degrade(render_pages(stamped)[1]), trust, connect=connect)
    assert r.verdict is Verdict.REVOKED
    assert r.revoked_reason_hash == "0x" + hashlib.sha256("通知内容有误".encode()).hexdigest()


def test_superseded_version_scans_as_superseded_pointing_to_current(reg, connect):
    v1 = chinese_pdf("服务指南", extra="（第一版）")
    rid, payload1 = publish(reg, v1)
    stamped1 = stamp(v1, payload1)
    v2 = chinese_pdf("服务指南", extra="（第二版）")
    _, payload2 = publish(reg, v2, record_id=rid)
    stamped2 = stamp(v2, payload2)
    trust = reg.trust()
    r = verify_image(degrade(render_pages(stamped1)[0]), trust, connect=connect)
    assert r.verdict is Verdict.SUPERSEDED
    assert (r.version, r.current_version) == (1, 2)
    assert r.timeline[-1].content_hash == "0x" + hashlib.sha256(v2).hexdigest()
    assert verify_file(stamped1, trust, connect=connect).verdict is Verdict.SUPERSEDED
    assert verify_file(stamped2, trust, connect=connect).verdict is Verdict.AUTHENTIC_CURRENT


def _certificate(reg, *, valid_until: int):
    cert = chinese_pdf("营业执照", pages=1, extra=" 持证人身份证号 110105********1234")
    salt = secrets.token_bytes(16)
    rid, version, leaf = reg.anchor(
        cert, kind=1, valid_until=valid_until, content_hash=holder_commitment(salt, cert)
    )
    payload = QrPayload.for_page(
        chain_id=reg.chain_id,
        registry=reg.address,
        record_id=rid,
        version=version,
        leaf=leaf,
        salt=salt,
    )
    return cert, payload


def test_expired_certificate_is_expired(reg, connect):
    now = reg.w3.eth.get_block("latest")["timestamp"]
    cert, payload = _certificate(reg, valid_until=now + 600)
    stamped = stamp(cert, payload)
    trust = reg.trust()
    assert verify_file(stamped, trust, connect=connect, now=now).verdict is (
        Verdict.AUTHENTIC_CURRENT
    )
    assert verify_file(stamped, trust, connect=connect, now=now + 601).verdict is Verdict.EXPIRED
    page = degrade(render_pages(stamped)[0])
    assert verify_image(page, trust, connect=connect, now=now + 601).verdict is Verdict.EXPIRED


def test_certificate_with_the_wrong_salt_is_tampered(reg, connect):
    now = reg.w3.eth.get_block("latest")["timestamp"]
    cert, payload = _certificate(reg, valid_until=now + 10**6)
    wrong = QrPayload(
        chain_id=payload.chain_id,
        registry_prefix=payload.registry_prefix,
        record_id=payload.record_id,
        version=payload.version,
        page=1,
        pages=1,
        leaf_prefix=payload.leaf_prefix,
        salt=secrets.token_bytes(16),
    )
    r = verify_file(stamp(cert, wrong), reg.trust(), connect=connect)
    assert r.verdict is Verdict.TAMPERED, r
    assert verify_file(stamp(cert, payload), reg.trust(), connect=connect).verdict is (
        Verdict.AUTHENTIC_CURRENT
    )


def test_photo_with_a_real_and_a_forged_code_reports_the_forgery(reg, connect):
    _, payload = publish(reg, b"some release")
    good = Image.open(io.BytesIO(qr_png(verify_url(HOST, payload))))
    forged = QrPayload.for_page(
        chain_id=reg.chain_id,
        registry="0x" + secrets.token_hex(20),
        record_id=payload.record_id,
        version=1,
        leaf=bytes(32),
    )
    bad = Image.open(io.BytesIO(qr_png(verify_url(HOST, forged))))
    sheet = Image.new("RGB", (good.width + bad.width + 40, max(good.height, bad.height)), "white")
    sheet.paste(good, (0, 0))
    sheet.paste(bad, (good.width + 40, 0))
    out = io.BytesIO()
    sheet.save(out, format="PNG")
    each = verify_image_each(out.getvalue(), reg.trust(), connect=connect)
    assert sorted(r.verdict.value for r in each) == ["authentic_current", "untrusted_issuer"]
    assert verify_image(out.getvalue(), reg.trust(), connect=connect).verdict is (
        Verdict.UNTRUSTED_ISSUER
    )


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, b"\xff\xd8\xff" + b"x" * 100],
)
def test_unreadable_images_are_invalid_code(reg, connect, data):
    r = verify_image(data, reg.trust(), connect=connect)
    assert r.verdict is Verdict.INVALID_CODE


def test_blank_page_has_no_code(reg, connect):
    out = io.BytesIO()
    Image.new("RGB", (600, 800), "white").save(out, format="PNG")
    r = verify_image(out.getvalue(), reg.trust(), connect=connect)
    assert r.verdict is Verdict.INVALID_CODE and "no QR code" in r.reason


def test_bare_payload_in_a_code_also_verifies(reg, connect):
    _, payload = publish(reg, b"bare")
    r = verify_image(qr_png(encode(payload)), reg.trust(), connect=connect)
    assert r.verdict is Verdict.AUTHENTIC_CURRENT


def test_another_qr_code_on_the_page_does_not_turn_it_red(reg, connect):
    # An office's WeChat account or a payment code beside the stamp is not a verify code:
    # it is ignored when the page has one of its own, and alone it is "invalid".
    original = chinese_pdf("采购结果公示", pages=1)
    _, payload = publish(reg, original)
    [page] = render_pages(stamp(original, payload))
    wechat_png = qr_png("https://weixin.qq.com/r/mp/AbCdEfGh")
    page.paste(Image.open(io.BytesIO(wechat_png)).convert("RGB"), (40, 40))
    out = io.BytesIO()
    page.save(out, format="PNG")
    result = verify_image(out.getvalue(), reg.trust(), connect=connect)
    assert result.verdict is Verdict.AUTHENTIC_CURRENT, result.reason
    alone = verify_image(wechat_png, reg.trust(), connect=connect)
    assert alone.verdict is Verdict.INVALID_CODE


def test_a_photo_over_16_megapixels_is_scaled_down_and_still_read(reg, connect):
    # Decoding copies the image several times: a 60 MP photo took 830 MB. Larger photos are
    # reduced to about 16 MP first, where a page's code is still hundreds of pixels wide.
    from verifier import imaging

    original = chinese_pdf("采购结果公示", pages=1)
    _, payload = publish(reg, original)
    [page] = render_pages(stamp(original, payload), dpi=600)  # 4961 × 7016, 35 MP
    out = io.BytesIO()
    page.save(out, format="JPEG", quality=90)  # what a phone or a scanner sends at this size
    assert page.width * page.height > imaging.WORK_PIXELS
    loaded = imaging._load(out.getvalue())
    assert loaded.width * loaded.height <= imaging.WORK_PIXELS
    result = verify_image(out.getvalue(), reg.trust(), connect=connect)
    assert result.verdict is Verdict.AUTHENTIC_CURRENT, result.reason
    # The same page as a PNG would be decoded whole before any reduction: refused, with a
    # reason, rather than inflated (a blank 59 MP PNG of 74 kB cost seconds).
    png = io.BytesIO()
    page.save(png, format="PNG")
    refused = verify_image(png.getvalue(), reg.trust(), connect=connect)
    assert refused.verdict is Verdict.INVALID_CODE and "too many pixels" in refused.reason
