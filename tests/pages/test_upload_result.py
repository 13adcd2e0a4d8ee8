"""`/verify` upload results: codes that point to a host other than this service's are a
warning naming the host, never plain green; a match shows the authentic page images to
compare. Real anvil, real stamped PDFs and photos."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from notary.formats.qr_payload import QrPayload, verify_url
from notary.pdf.stamp import stamp_pdf
from verifier.chainsource import RegistryPool
from verifier.trust import TrustEntry, TrustList

OWN_HOST = "verify.gov.example"
LOOK_ALIKE = "verify.gov-example.cn"
MIRROR = "mirror.region.gov.example"


def _pdf(title: str, pages: int = 2) -> bytes:
    from support.scan import chinese_pdf

    return chinese_pdf(title, pages)


def _stamped(reg, data: bytes, host: str) -> bytes:
    rid, version, leaf = reg.anchor(data)
    payload = QrPayload.for_page(
        chain_id=reg.chain_id, registry=reg.address, record_id=rid, version=version, leaf=leaf,
    )  # fmt: skip
    return stamp_pdf(data, make_payload=lambda p, n: verify_url(host, payload.with_page(p, n)))


@pytest.fixture
def client(verifier_registry, tmp_path: Path) -> Iterator[TestClient]:
    from api.core.settings import Settings
    from api.main import create_app

    reg = verifier_registry
    app = create_app(Settings(data_dir=tmp_path, public_base_url=f"https://{OWN_HOST}"))
    app.state.verify_trust = TrustList.of(
        [TrustEntry(reg.chain_id, reg.address, "本区域", reg.chain.url, verify_hosts=(MIRROR,))]
    )
    app.state.verify_connect = RegistryPool()
    app.state.verify_ttl = 0.0
    with TestClient(app) as c:
        yield c


def _upload(client: TestClient, data: bytes, name: str = "copy.pdf", **kw):
    kind = "image/jpeg" if name.endswith(".jpg") else "application/pdf"
    return client.post("/verify", files={"file": (name, data, kind)}, **kw)


def _verdict_box(page: str) -> str:
    found = re.search(r'<div class="verdict ([a-z]+)"', page)
    assert found is not None
    return found.group(1)


def test_a_stamped_pdf_pointing_to_a_look_alike_host_is_a_warning(
    client, verifier_registry
) -> None:
    stamped = _stamped(verifier_registry, _pdf("关于征收补偿的公告"), LOOK_ALIKE)
    page = _upload(client, stamped).text
    assert 'data-verdict="authentic_current"' in page  # the chain backs these bytes
    assert _verdict_box(page) == "foreign"  # but never plain green
    assert "真实有效 · 当前版本" not in page and "二维码指向其他网站" in page
    warning = re.search(r'<p class="note" id="host-warning"[^>]*>(.*?)</p>', page, re.S)
    assert warning is not None and LOOK_ALIKE in warning.group(1)
    en = _upload(client, stamped, params={"lang": "en"}).text
    assert "Authentic, but its codes point to another site" in en and LOOK_ALIKE in en
    as_json = _upload(client, stamped, headers={"Accept": "application/json"})
    body = as_json.json()
    assert as_json.status_code == 200 and body["verdict"] == "authentic_current"
    assert body["foreign_hosts"] == [LOOK_ALIKE] and body["host_warning"] is True


@pytest.mark.parametrize("host", [OWN_HOST, OWN_HOST.upper() + ":443", MIRROR])
def test_codes_of_this_service_or_a_trusted_host_stay_green(
    client, verifier_registry, host
) -> None:
    stamped = _stamped(verifier_registry, _pdf(f"公告 {host}"), host)
    page = _upload(client, stamped).text
    assert _verdict_box(page) == "ok" and 'id="host-warning"' not in page
    body = _upload(client, stamped, headers={"Accept": "application/json"}).json()
    assert body["foreign_hosts"] == [] and body["host_warning"] is False


def test_a_photo_of_a_page_with_a_look_alike_code_is_a_warning(client, verifier_registry) -> None:
    from support.scan import degrade, render_pages

    stamped = _stamped(verifier_registry, _pdf("办事指南"), LOOK_ALIKE)
    photo = degrade(render_pages(stamped)[0])
    body = _upload(client, photo, "photo.jpg", headers={"Accept": "application/json"}).json()
    assert body["verdict"] == "authentic_current" and body["foreign_hosts"] == [LOOK_ALIKE]
    page = _upload(client, photo, "photo.jpg").text
    assert _verdict_box(page) == "foreign" and LOOK_ALIKE in page


def test_json_upload_without_a_file_is_a_clear_400(client) -> None:
    r = client.post("/verify", headers={"Accept": "application/json"})
    assert r.status_code == 400 and r.json()["detail"] == "no file uploaded"
