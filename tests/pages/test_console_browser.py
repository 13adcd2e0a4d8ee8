"""The console, the register and the desk in a real browser (Debian Chromium, Playwright)
against uvicorn on loopback, with the anchoring worker running on anvil.

The journey: an admin adds a clerk; the clerk signs in with the keyboard alone, publishes a
PDF with a resident ID number, sees the finding on its page, masks it, watches the release
get anchored, downloads the stamped PDF, and its page image, scanned, verifies as authentic;
then revises and revokes it, and issues a certificate whose holder's copy and link verify. The
auditor runs the chain-vs-database audit. Every page is checked by axe-core (no serious or
critical violation) and kept as a screenshot under test-artifacts/screenshots/; the public
pages are checked at phone size in large print.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.console_site import (
    ADMIN_KEY,
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    ConsoleSite,
    axe_violations,
    pdf_with_id,
    shot,
)
from support.pii_samples import make_id

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed")

PASSWORD = "a long clerk password"
NUMBER = "区财发〔2026〕3号"


@pytest.fixture
def site(tmp_path: Path, chain_config, registry_office) -> Iterator[ConsoleSite]:
    s = ConsoleSite(tmp_path, chain_config, registry_office)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def _page_png(pdf: bytes, index: int = 0) -> bytes:
    import io

    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        image = doc[index].render(scale=2).to_pil()
    finally:
        doc.close()
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _qr_texts(png: bytes) -> list[str]:
    import io

    import zxingcpp
    from PIL import Image

    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def test_publish_mask_anchor_stamp_scan_revise_revoke_and_audit_in_a_browser(
    site: ConsoleSite, browser, tmp_path: Path
) -> None:
    from pypdf import PdfReader

    base = site.base
    ctx = browser.new_context(viewport={"width": 1100, "height": 900}, bypass_csp=True,
                              accept_downloads=True)  # fmt: skip
    page = ctx.new_page()
    page.set_default_timeout(60_000)  # the machine is shared: a slow moment is not a failure
    found: dict[str, list] = {}

    def go(target) -> None:
        """Click what navigates, and wait until the next page has loaded."""
        target.click()
        page.wait_for_load_state("load")

    def check(name: str) -> None:
        shot(page, name)
        found[name] = axe_violations(page)

    # the landing page, then an admin adds the clerk
    page.goto(base + "/")
    assert page.get_by_role("link", name="核验文件").is_visible()
    check("landing")
    go(page.get_by_role("link", name="工作人员登录").first)
    check("signin")
    page.fill("#api_key", ADMIN_KEY)
    go(page.get_by_role("button", name="用密钥登录"))
    page.wait_for_url("**/admin")
    check("admin")
    page.fill("#p-username", "wang.fang")
    page.fill("#p-name", "王芳")
    page.select_option("#p-role", "publisher")
    page.select_option("#p-office", site.office_id)
    page.fill("#p-password", PASSWORD)
    go(page.get_by_role("button", name="添加人员"))
    assert "人员已添加" in page.content()
    go(page.get_by_role("link", name="示范区财政局"))
    check("admin-office")
    go(page.get_by_role("button", name=re.compile("^退出登录")))
    page.wait_for_url(base + "/?signed_out=1")

    # the clerk signs in with the keyboard only
    page.goto(base + "/signin")
    page.focus("#username")
    page.keyboard.type("wang.fang")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/console")
    check("console-list")
    go(page.get_by_role("link", name="发布新文件"))
    check("publish-form")
    id_number = make_id()
    pdf = pdf_with_id(id_number)
    page.fill("#m-title", "2026 年区级预算公告")
    page.fill("#m-category", "预算")
    page.fill("#m-number", NUMBER)
    page.fill("#m-reviewer", "李伟")
    page.fill("#m-date", "2026-01-15")
    page.check("#tier-public")
    page.set_input_files("#m-file", files=[
        {"name": "notice.pdf", "mimeType": "application/pdf", "buffer": pdf}
    ])  # fmt: skip
    go(page.get_by_role("button", name="发布", exact=True))

    # the finding, on its page, masked in the preview; the number itself is never shown
    assert "发现个人信息" in page.content()
    finding = page.locator("li.finding").first.inner_text()
    assert "身份证号" in finding and id_number[-4:] in finding and id_number not in page.content()
    assert page.get_by_role("heading", name="第 2 页").is_visible()
    assert page.is_checked("#c-replace") and page.locator("#c-mask").count() == 0  # a PDF
    check("pii-review")
    masked = id_number[:6] + "********" + id_number[-4:]  # as the office's editor masks it
    page.set_input_files("#c-corrected", files=[
        {"name": "notice-masked.pdf", "mimeType": "application/pdf", "buffer": pdf_with_id(masked)}
    ])  # fmt: skip
    go(page.get_by_role("button", name="继续"))

    # the release page reloads itself until anchored
    page.wait_for_url("**/console/releases/**")
    release_url = page.url.split("?")[0]
    page.locator("#anchor-state", has_text="已上链").wait_for(timeout=60_000)
    check("release-anchored")
    with page.expect_download() as download:
        page.click("#download-stamped")
    stamped = Path(download.value.path()).read_bytes()
    assert stamped.startswith(b"%PDF")
    text = "".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(stamped)).pages)
    assert id_number not in text and masked in text  # the masked copy was published

    # a phone scans the printed page: its code opens the verify page, which says authentic
    png = _page_png(stamped)
    codes = [c for c in _qr_texts(png) if "/v/" in c]
    assert codes, "no verify code on the stamped page"
    page.goto(codes[0])
    assert "真实有效 · 当前版本" in page.content()
    check("verify-authentic")
    page.goto(base + "/verify")
    page.set_input_files("input[type=file]", files=[
        {"name": "photo.png", "mimeType": "image/png", "buffer": png}
    ])  # fmt: skip
    go(page.get_by_role("button", name="开始核验"))
    assert "真实有效 · 当前版本" in page.content()

    # revise, with a confirmation step
    page.goto(release_url)
    go(page.get_by_role("link", name="发布新版本"))
    check("revise-form")
    page.fill("#c-note", "更正预算表中的合计")
    page.fill("#c-title", "2026 年区级预算公告（更正）")
    go(page.get_by_role("button", name="下一步：确认"))
    assert "将发布以下新版本" in page.content()
    check("revise-confirm")
    go(page.get_by_role("button", name="确认发布新版本"))
    page.locator("#anchor-state", has_text="已上链").wait_for(timeout=60_000)
    assert "新版本已受理" in page.content() or "已上链" in page.content()
    assert "2026 年区级预算公告（更正）" in page.content()
    page.goto(codes[0])
    assert "真实，但已被新版本取代" in page.content()

    # revoke, with its reason and a confirmation
    page.goto(release_url)
    go(page.get_by_role("link", name="撤销"))
    page.fill("#c-reason", "预算已由新文件取代")
    go(page.get_by_role("button", name="下一步：确认"))
    assert "撤销不可恢复" in page.content()
    check("revoke-confirm")
    go(page.get_by_role("button", name="确认撤销"))
    assert "已撤销" in page.content()
    check("revoked")

    # a certificate: issued, anchored, and the holder's stamped copy verifies
    page.goto(base + "/console")
    go(page.get_by_role("link", name="签发电子证照"))
    check("certificate-form")
    holder_id = make_id("310101", "19880521", "047")
    page.fill("#ct-title", "个体工商户营业执照")
    page.fill("#ct-name", "张三")
    page.fill("#ct-id", holder_id)
    page.fill("#ct-reviewer", "李伟")
    page.fill("#ct-until", "2031-01-01")
    go(page.get_by_role("button", name="签发电子证照"))
    holder_link = page.locator("#holder-link").get_attribute("href") or ""
    assert "/holder/" in holder_link and "#" in holder_link and holder_id not in page.content()
    check("certificate-holder-link")
    go(page.locator("#to-release"))
    page.locator("#anchor-state", has_text="已上链").wait_for(timeout=60_000)
    assert holder_id not in page.content()
    check("certificate-issued")
    with page.expect_download() as download:
        page.click("#download-stamped")
    holder_copy = Path(download.value.path()).read_bytes()
    holder_codes = [c for c in _qr_texts(_page_png(holder_copy)) if "/v/" in c]
    assert holder_codes, "no verify code on the holder's copy"
    page.goto(holder_codes[0])
    assert "真实有效" in page.content() and holder_id not in page.content()
    check("certificate-verify")

    # the holder's link: the page's one hashed script moves the fragment into the form
    page.goto(holder_link)
    salt = holder_link.partition("#")[2]
    assert page.input_value("#code") == salt and "#" not in page.url
    check("holder-form")
    go(page.get_by_role("button", name="核验我的证照"))
    assert "真实有效" in page.content() and holder_id not in page.content()
    check("holder-verified")
    with page.expect_download() as download:
        page.get_by_role("button", name="下载我的证照").click()
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF-")

    # the public register finds it by document number, with its verify page
    page.goto(base + "/records?number=" + NUMBER)
    assert "2026 年区级预算公告（更正）" in page.content()
    check("register-results")
    go(page.get_by_role("link", name="查看核验页面").first)
    assert "已撤销" in page.content()

    # the auditor's desk: the chain check, the alerts, an audit run
    page.goto(base + "/signin")
    go(page.get_by_role("button", name="退出登录 (王芳)"))
    page.goto(base + "/signin")
    page.fill("#api_key", site.keys["auditor"])
    go(page.get_by_role("button", name="用密钥登录"))
    page.wait_for_url("**/desk")
    assert "完整" in page.locator("#log-check").inner_text()
    check("desk")
    go(page.get_by_role("button", name="立即执行比对"))
    page.wait_for_url("**/desk?ran=1")
    assert "一致" in page.locator("#last-audit").inner_text()
    check("desk-audited")
    with page.expect_download() as download:
        go(page.get_by_role("link", name="导出全部访问日志（CSV）"))
    csv_text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert csv_text.startswith('"seq"') and "publish" in csv_text and "revoke" in csv_text
    ctx.close()
    assert {k: v for k, v in found.items() if v} == {}


def test_public_pages_read_at_phone_size_in_large_print(site: ConsoleSite, browser) -> None:
    md = {"title": "老年人乘车补贴办法", "category": "民政", "publication_date": "2026-02-01",
          "reviewer": "李伟", "language": "zh-CN",
          "extra": {"document_number": "区民发〔2026〕9号"}}  # fmt: skip
    import json

    r = site.api.post(
        "/api/v1/records",
        files={"file": ("notice.txt", "补贴办法全文".encode(), "text/plain")},
        data={"metadata": json.dumps(md, ensure_ascii=False), "tier": "public"},
        headers={"Authorization": f"Bearer {site.keys['publisher']}"},
    )
    assert r.status_code == 201, r.text
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                              has_touch=True, bypass_csp=True)  # fmt: skip
    page = ctx.new_page()
    found: dict[str, list] = {}
    for name, path in (
        ("phone-landing", "/?large=1"),
        ("phone-register", "/records?large=1"),
        ("phone-register-search", "/records?large=1&q=补贴"),
        ("phone-signin", "/signin?large=1"),
        ("phone-register-en", "/records?large=1&lang=en"),
    ):
        page.goto(site.base + path)
        assert page.evaluate("document.body.classList.contains('large')")
        size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert size >= 22
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= PHONE["width"], (name, overflow)
        shot(page, name)
        found[name] = axe_violations(page)
    # keyboard only: the skip link comes first, then the links in reading order
    page.goto(site.base + "/?large=1")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "跳到正文"
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('href')") == "/records?large=1":
            break
    else:
        raise AssertionError("the register's link is not reachable with Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/records?large=1")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the skip link: focus moves past the navigation
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "f-q"
    page.keyboard.type("补贴")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=**")
    assert "老年人乘车补贴办法" in page.content()
    page.get_by_role("link", name="English").click()
    page.wait_for_load_state("load")
    assert "Public register" in page.content() and "large=1" in page.url
    ctx.close()
    assert {k: v for k, v in found.items() if v} == {}
