"""The citizen's verify page in a real browser: headless Debian Chromium (Playwright) against a
real uvicorn server on loopback, one real QR URL per verdict, phone-size screenshots in
normal and large-font mode kept under test-artifacts/screenshots/."""

from __future__ import annotations

import hashlib
import time

import pytest
from support.verify_site import CHROMIUM, PHONE, SHOTS

from notary.formats.qr_payload import encode

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed")


EXPECTED = {
    # name: (HTTP status, Chinese headline, English headline)
    "current": (200, "真实有效 · 当前版本", "Authentic and current"),
    "superseded_v1": (200, "真实，但已被新版本取代", "Authentic but superseded"),
    "superseded_v2": (200, "真实有效 · 当前版本", "Authentic and current"),
    "revoked": (200, "已撤销", "Revoked"),
    "expired": (200, "已过期", "Expired"),
    "unknown": (404, "未找到记录", "Not found"),
    "tampered": (200, "内容被篡改", "Tampered"),
    "untrusted": (200, "不受信任的签发方", "Untrusted issuer"),
    "invalid": (400, "不是有效的核验码", "Not a valid code"),
}


def test_every_verdict_reads_right_in_a_phone_browser(site, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    wait = site.expires_at + 1 - time.time()
    if wait > 0:
        time.sleep(wait)
    page = browser.new_page(viewport=PHONE, device_scale_factor=2)
    try:
        for name, (status, zh, en) in EXPECTED.items():
            url = site.codes[name]
            assert url.startswith(site.base + "/v/")
            response = page.goto(url)
            assert response is not None and response.status == status, name
            assert page.locator("h1#verdict").inner_text() == zh, name
            assert page.locator("html").get_attribute("lang") == "zh-CN"
            icon = page.locator(".verdict .icon").inner_text()
            assert icon.strip() in "✔⚠✘?◐", name  # never colour alone
            page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
            page.goto(url + "?lang=en&large=1")
            assert page.locator("h1#verdict").inner_text() == en, name
            assert page.locator("html").get_attribute("lang") == "en"
            assert "large" in (page.locator("body").get_attribute("class") or "")
            page.goto(url + "?large=1")
            page.screenshot(path=str(SHOTS / f"{name}-large.png"), full_page=True)
    finally:
        page.close()


def test_authentic_page_shows_office_title_timeline_and_page_image(site, browser):
    page = browser.new_page(viewport=PHONE)
    try:
        page.goto(site.codes["current"])
        facts = page.locator("#facts").inner_text()
        assert site.reg.OFFICE_NAME in facts
        assert "二〇二六年度部门预算公开" in facts
        assert "v1" in facts
        assert page.locator("#timeline li").count() == 1
        img = page.locator("#page-image img")
        assert img.count() == 1
        img.scroll_into_view_if_needed()
        page.wait_for_function(
            "(i) => i.complete && i.naturalWidth > 300", arg=img.element_handle(), timeout=15000
        )
        # No script at all, and only a small document.
        assert page.locator("script").count() == 0
    finally:
        page.close()


def test_superseded_page_links_to_the_current_version(site, browser):
    page = browser.new_page(viewport=PHONE)
    try:
        page.goto(site.codes["superseded_v1"])
        section = page.locator("#superseded").inner_text()
        assert "v2" in section
        assert page.locator("#timeline li").count() == 2
        page.locator("#superseded a").click()
        page.wait_for_load_state()
        assert page.locator("h1#verdict").inner_text() == "真实有效 · 当前版本"
        assert "v2" in page.locator("#facts").inner_text()
    finally:
        page.close()


def test_revoked_page_shows_the_reason(site, browser):
    page = browser.new_page(viewport=PHONE)
    try:
        page.goto(site.codes["revoked"] + "?lang=en")
        text = page.locator("#revoked").inner_text()
        assert "公示信息有误，予以撤销" in text
        digest = hashlib.sha256("公示信息有误，予以撤销".encode()).hexdigest()
        assert digest in text
    finally:
        page.close()


def test_untrusted_code_never_shows_an_office_name(site, browser):
    page = browser.new_page(viewport=PHONE)
    try:
        page.goto(site.codes["untrusted"])
        assert site.reg.OFFICE_NAME not in page.content()
    finally:
        page.close()


def test_upload_form_checks_a_stamped_pdf_and_a_photo(site, browser, tmp_path):
    from support.scan import degrade, render_pages

    stamped = tmp_path / "budget.pdf"
    stamped.write_bytes(site.files["stamped"])
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(degrade(render_pages(site.files["stamped"])[1]))
    forged = tmp_path / "edited.pdf"
    data = bytearray(site.files["stamped"])
    at = data.index(b"stream") + 10
    data[at] ^= 1
    forged.write_bytes(bytes(data))
    page = browser.new_page(viewport=PHONE)
    try:
        for path, headline in (
            (stamped, "真实有效 · 当前版本"),
            (photo, "真实有效 · 当前版本"),
            (forged, "内容被篡改"),
        ):
            page.goto(site.base + "/verify")
            page.set_input_files("input[type=file]", str(path))
            page.locator("button[type=submit]").click()
            page.wait_for_load_state()
            assert page.locator("h1#verdict").inner_text() == headline, path.name
        page.screenshot(path=str(SHOTS / "upload-tampered.png"), full_page=True)
    finally:
        page.close()


@pytest.mark.parametrize(
    "path",
    [
        "/v/",
        "/v/%00%01",
        "/v/" + "A" * 5000,
        "/v/..%2F..%2Fetc%2Fpasswd",
        "/v/测试",
        "/v/AQ/page.png",
    ],
)
def test_malformed_paths_are_friendly_never_500(site, path):
    import httpx

    r = httpx.get(site.base + path)
    assert r.status_code in (400, 404), (path, r.status_code)
    if r.headers.get("content-type", "").startswith("text/html"):
        assert "不是有效的核验码" in r.text or r.status_code == 404


def test_payload_only_link_works_without_host(site):
    import httpx

    code = site.codes["current"].rsplit("/", 1)[1]
    assert encode  # the bare payload is the path segment
    r = httpx.get(f"{site.base}/v/{code}?lang=en")
    assert r.status_code == 200 and "Authentic and current" in r.text
