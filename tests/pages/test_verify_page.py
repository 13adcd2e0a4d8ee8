"""The citizen's verify page in a real browser: headless Debian Chromium (Playwright) against a
real uvicorn server on loopback, one real QR URL per verdict, phone-size screenshots in
normal and large-font mode kept under test-artifacts/screenshots/."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import paths

from notary.chain.local import free_port
from notary.formats.qr_payload import QrPayload, encode, verify_url
from notary.pdf.stamp import stamp_pdf
from notary.pdf.verify_links import VerifyTarget
from verifier.certificate import holder_commitment
from verifier.chainsource import RegistryPool
from verifier.trust import TrustEntry, TrustList

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = paths.ROOT / "test-artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed")


def _pdf(title: str, pages: int = 2) -> bytes:
    from support.scan import chinese_pdf

    return chinese_pdf(title, pages)


class Site:
    """A uvicorn server running the real app, with records in every state on anvil."""

    def __init__(self, reg, tmp: Path) -> None:
        import uvicorn

        from api.core.settings import Settings
        from api.main import create_app
        from api.pages.verify import RecordExtras

        self.reg = reg
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.host = f"127.0.0.1:{self.port}"
        self.extras: dict[tuple[str, int], RecordExtras] = {}
        self.codes: dict[str, str] = {}
        self.files: dict[str, bytes] = {}
        self._populate(RecordExtras)

        app = create_app(Settings(data_dir=tmp, public_base_url=self.base))
        app.state.verify_trust = reg.trust("示范区域政务公证链")
        app.state.verify_connect = RegistryPool()
        app.state.verify_ttl = 0.0
        app.state.verify_enricher = lambda r: self.extras.get((r.record_id or "", r.version or 0))
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)

    def url(self, payload: QrPayload) -> str:
        return verify_url(self.host, payload, scheme="http")

    def _publish(self, name, data, extras, RecordExtras, *, record_id=None, **kw):
        rid, version, leaf = self.reg.anchor(data, record_id=record_id, **kw)
        payload = QrPayload.for_page(
            chain_id=self.reg.chain_id,
            registry=self.reg.address,
            record_id=rid,
            version=version,
            leaf=leaf,
            page=1,
            pages=2,
        )
        self.codes[name] = self.url(payload)
        self.extras[("0x" + rid.hex(), version)] = RecordExtras(**extras)
        return rid, payload

    def _populate(self, RecordExtras) -> None:
        reg = self.reg
        budget = _pdf("二〇二六年度部门预算公开")
        rid, payload = self._publish(
            "current",
            budget,
            {"title": "二〇二六年度部门预算公开", "tier": "public", "file_bytes": budget},
            RecordExtras,
        )
        self.files["stamped"] = stamp_pdf(
            budget, make_payload=lambda p, n: self.url(payload.with_page(p, n))
        )
        guide1, guide2 = _pdf("办事指南（第一版）"), _pdf("办事指南（第二版）")
        g_rid, _ = self._publish(
            "superseded",
            guide1,
            {"title": "不动产登记办事指南", "tier": "public", "file_bytes": guide1},
            RecordExtras,
        )
        self.codes["superseded_v1"] = self.codes.pop("superseded")
        self._publish(
            "superseded_v2",
            guide2,
            {"title": "不动产登记办事指南", "tier": "public", "file_bytes": guide2},
            RecordExtras,
            record_id=g_rid,
        )
        notice = _pdf("采购结果公示")
        n_rid, _ = self._publish(
            "revoked",
            notice,
            {
                "title": "采购结果公示",
                "revocation_reason": "公示信息有误，予以撤销",
                "tier": "public",
            },
            RecordExtras,
        )
        reg.revoke(n_rid, "公示信息有误，予以撤销")
        cert = b"%PDF-1.7 certificate placeholder"
        salt = secrets.token_bytes(16)
        self.expires_at = reg.w3.eth.get_block("latest")["timestamp"] + 2
        rid_c, version_c, leaf_c = reg.anchor(
            cert, kind=1, valid_until=self.expires_at, content_hash=holder_commitment(salt, cert)
        )
        self.codes["expired"] = self.url(
            QrPayload.for_page(
                chain_id=reg.chain_id,
                registry=reg.address,
                record_id=rid_c,
                version=version_c,
                leaf=leaf_c,
                salt=salt,
            )
        )
        self.codes["unknown"] = self.url(payload_for(reg, reg.new_record_id(), 1, bytes(32)))
        self.codes["tampered"] = self.url(payload_for(reg, rid, 1, b"\x99" * 32))
        self.codes["untrusted"] = self.url(
            payload_for(reg, rid, 1, reg.leaves[rid], registry="0x" + secrets.token_hex(20))
        )
        self.codes["invalid"] = self.codes["current"][:-6]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def payload_for(reg, rid, version, leaf, *, registry=None) -> QrPayload:
    return QrPayload.for_page(
        chain_id=reg.chain_id,
        registry=registry or reg.address,
        record_id=rid,
        version=version,
        leaf=leaf,
    )


@pytest.fixture(scope="module")
def site(anvil, tmp_path_factory) -> Iterator[Site]:
    """One site for the module, on a registry deployed inside a module-wide snapshot."""
    from support.chain_helpers import VerifierRegistry

    from notary.chain.local import rpc_call

    snap = rpc_call(anvil.url, "evm_snapshot")
    s = Site(VerifierRegistry(anvil), tmp_path_factory.mktemp("site"))
    yield s
    s.stop()
    rpc_call(anvil.url, "evm_revert", [snap])


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


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


def test_page_takes_title_reason_and_public_file_from_the_office_database(
    verifier_registry, tmp_path, db_url
):
    """Without an enricher the page reads the office database (title, reason text, the file
    of a public record); the verdict itself still comes from the chain alone. On SQLite and
    PostgreSQL."""
    from fastapi.testclient import TestClient

    from api.core.settings import Settings
    from api.main import create_app
    from api.services import blobs
    from notary.db import repo

    reg = verifier_registry
    budget = _pdf("二〇二六年度决算公开", pages=1)
    meta = '{"title":"二〇二六年度决算公开"}'
    meta_hash = hashlib.sha256(meta.encode()).digest()
    rid, version, leaf = reg.anchor(budget, metadata_hash=meta_hash)
    sha = hashlib.sha256(budget).hexdigest()
    app = create_app(Settings(data_dir=tmp_path, database_url=db_url))
    app.state.verify_trust = reg.trust()
    app.state.verify_target = VerifyTarget(  # the node's own registry: its records
        scheme="http", host="testserver", chain_id=reg.chain_id, registry=reg.address
    )
    app.state.verify_connect = RegistryPool()
    app.state.verify_ttl = 0.0
    code = encode(payload_for(reg, rid, version, leaf))
    with TestClient(app) as client:
        settings = app.state.settings
        with app.state.db.session() as s:
            office = repo.create_office(
                s, office_id=reg.office_id, number=reg.office_number, name="数据库里的名字"
            )
            repo.create_record(
                s,
                record_id=rid,
                office=office,
                kind="disclosure",
                access_tier="public",
                title="二〇二六年度决算公开",
                content_hash=sha,
                metadata_json=meta,
                metadata_hash=meta_hash,
            )
            blobs.put(s, settings.blobs, sha256=sha, data=budget, media_type="application/pdf")
            s.commit()
        r = client.get(f"/v/{code}")
        assert r.status_code == 200
        assert "二〇二六年度决算公开" in r.text
        # time waiting for a slot, then time worked on (NOTARY_VERIFY_CONCURRENCY)
        assert re.fullmatch(r"wait;dur=[\d.]+, verify;dur=[\d.]+", r.headers["server-timing"])
        assert reg.OFFICE_NAME in r.text and "数据库里的名字" not in r.text  # registry's name
        image = client.get(f"/v/{code}/page.png")
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
        with app.state.db.session() as s:
            repo.record_revocation(s, record_id=rid, reason="数据有误，撤销重发")
            s.commit()
        reg.revoke(rid, "数据有误，撤销重发")
        r = client.get(f"/v/{code}?lang=en")
        assert "Revoked" in r.text and "数据有误，撤销重发" in r.text


def test_the_database_decorates_only_this_registrys_record_with_its_own_version(
    chain_snapshot, verifier_registry, tmp_path, db_url
) -> None:
    # Titles come from the scanned version's metadata (a later, unanchored revision may have
    # renamed the record), and only for this node's registry: another trusted registry can
    # hold the same record id, and our title must not vouch for its bytes.
    from fastapi.testclient import TestClient
    from support.chain_helpers import VerifierRegistry

    from api.core.settings import Settings
    from api.main import create_app
    from notary.db import repo

    ours, other = verifier_registry, VerifierRegistry(chain_snapshot)
    draft = b"%PDF-1.7 draft"
    m1 = json.dumps({"title": "预算（征求意见稿）"})
    rid, v1, leaf1 = ours.anchor(draft, metadata_hash=hashlib.sha256(m1.encode()).digest())
    _, v_other, leaf_other = other.anchor(b"forged: all paid to vendor X", record_id=rid)
    app = create_app(Settings(data_dir=tmp_path, database_url=db_url))
    app.state.verify_trust = TrustList.of(
        [
            TrustEntry(ours.chain_id, ours.address, "本区域", chain_snapshot.url),
            TrustEntry(other.chain_id, other.address, "其他区域", chain_snapshot.url),
        ]
    )
    app.state.verify_target = VerifyTarget(
        scheme="http", host="testserver", chain_id=ours.chain_id, registry=ours.address
    )
    app.state.verify_connect = RegistryPool()
    app.state.verify_ttl = 0.0

    def code(reg, version: int, leaf: bytes) -> str:
        return encode(
            QrPayload.for_page(
                chain_id=reg.chain_id, registry=reg.address, record_id=rid, version=version,
                leaf=leaf,
            )
        )  # fmt: skip

    with TestClient(app) as client:
        with app.state.db.session() as s:
            office = repo.create_office(
                s, office_id=ours.office_id, number=ours.office_number, name="局"
            )
            repo.create_record(
                s, record_id=rid, office=office, kind="disclosure", access_tier="public",
                title="预算（征求意见稿）", content_hash=hashlib.sha256(draft).hexdigest(),
                metadata_json=m1, metadata_hash=hashlib.sha256(m1.encode()).digest(),
            )  # fmt: skip
            m2 = json.dumps({"title": "预算（正式版）"})
            repo.add_revision(
                s, record_id=rid, version=2, title="预算（正式版）",
                content_hash=hashlib.sha256(b"final").hexdigest(), metadata_json=m2,
                metadata_hash=hashlib.sha256(m2.encode()).digest(),
            )  # fmt: skip
            s.commit()
        ours_page = client.get(f"/v/{code(ours, v1, leaf1)}").text
        other_page = client.get(f"/v/{code(other, v_other, leaf_other)}").text
    assert 'data-verdict="authentic_current"' in ours_page  # v2 is not anchored yet
    assert "预算（征求意见稿）" in ours_page and "正式版" not in ours_page
    assert 'data-verdict="authentic_current"' in other_page and "其他区域" in other_page
    assert "预算" not in other_page


def test_an_uploaded_picture_without_a_code_is_looked_up_as_a_published_file(
    verifier_registry, tmp_path
) -> None:
    # An office may publish a notice as a PNG: uploaded as it is, it holds no QR code, and
    # the page used to stop at "not a valid code" instead of finding it by its hash.
    import io

    from fastapi.testclient import TestClient
    from PIL import Image

    # It is found through this service's own database (its content-hash index), as any
    # upload without a code is.
    from support.uploads import own_app, record_anchored

    reg = verifier_registry
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(buf, "PNG")
    notice = buf.getvalue()
    rid, version, leaf = reg.anchor(notice)
    app = own_app(reg, tmp_path)
    with TestClient(app) as client:
        record_anchored(app, reg, rid, version, leaf, notice)
        found = client.post("/verify", files={"file": ("notice.png", notice, "image/png")})
        other = buf.getvalue()[:-1] + b"\x00"  # not published, no code: as before
        unknown = client.post("/verify", files={"file": ("photo.png", other, "image/png")})
    assert 'data-verdict="authentic_current"' in found.text
    assert unknown.status_code == 400 and 'data-verdict="invalid_code"' in unknown.text


def test_a_record_replaced_by_another_names_it_not_a_latest_version(
    verifier_registry, tmp_path
) -> None:
    # The holder has v1 of a record another record replaced: "latest version: v1" told them
    # the copy in hand was the newest. The page names the replacing record instead.
    import re

    from fastapi.testclient import TestClient

    from api.core.settings import Settings
    from api.main import create_app

    reg = verifier_registry
    rid, version, leaf = reg.anchor(b"old notice")
    new_rid, _, _ = reg.anchor(b"new notice")
    reg.replace(rid, new_rid)
    app = create_app(Settings(data_dir=tmp_path))
    app.state.verify_trust = reg.trust()
    app.state.verify_connect = RegistryPool()
    app.state.verify_ttl = 0.0
    code = encode(payload_for(reg, rid, version, leaf))
    with TestClient(app) as client:
        page = client.get(f"/v/{code}?lang=en").text
    assert 'data-verdict="superseded"' in page
    card = re.search(r'<section class="card" id="superseded">(.*?)</section>', page, re.S)
    assert card is not None and "Latest version" not in card.group(1)
    assert new_rid.hex() in card.group(1)


def test_odd_language_and_size_parameters_still_get_the_page(tmp_path) -> None:
    from fastapi.testclient import TestClient

    from api.core.settings import Settings
    from api.main import create_app

    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        r = client.get("/verify", params={"lang": "english-please", "large": "definitely-yes"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'lang="en"' in r.text
