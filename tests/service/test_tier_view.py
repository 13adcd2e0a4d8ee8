"""What an anonymous caller learns about a record is its tier's public view, on every route:
the `/v/` pages built from chain events, `/verify` uploads, the JSON API's superseded-by
links. Real anvil, real SQLite and PostgreSQL, real PDFs."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from notary.db.models import Revision
from notary.db.types import AnchorState
from notary.formats.qr_payload import QrPayload, encode
from notary.pdf.verify_links import VerifyTarget
from verifier.chainsource import RegistryPool

SECRET_TITLE = "内部：拆迁补偿测算（不公开）"
SECRET_REASON = "涉及未公开的谈判底价"


def _pdf(title: str, pages: int = 1) -> bytes:
    from support.scan import chinese_pdf

    return chinese_pdf(title, pages)


@dataclass
class Node:
    """An app whose database and chain both hold the records (the node's own registry)."""

    client: TestClient
    app: object
    reg: object
    office: object

    def add(self, data: bytes, tier: str, title: str) -> tuple[bytes, str]:
        """Anchor `data` on the chain and record it in the database; (record id, /v/ code)."""
        from api.services import blobs
        from notary.db import repo

        meta = json.dumps({"title": title})
        meta_hash = hashlib.sha256(meta.encode()).digest()
        rid, version, leaf = self.reg.anchor(data, metadata_hash=meta_hash)
        sha = hashlib.sha256(data).hexdigest()
        with self.app.state.db.session() as s:
            office = repo.get_office(s, number=self.reg.office_number)
            repo.create_record(
                s, record_id=rid, office=office, kind="disclosure", access_tier=tier,
                title=title, content_hash=sha, metadata_json=meta, metadata_hash=meta_hash,
            )  # fmt: skip
            blobs.put(s, self.app.state.settings.blobs, sha256=sha, data=data,
                      media_type="application/pdf")  # fmt: skip
            # Anchored, as the worker would record it: uploads are found through these rows.
            rev = s.execute(select(Revision).where(Revision.record_id == rid.hex())).scalar_one()
            rev.anchor_state, rev.tx_hash = AnchorState.ANCHORED, "ab" * 32
            rev.block_number, rev.leaf = 1, leaf.hex()
            s.commit()
        payload = QrPayload.for_page(
            chain_id=self.reg.chain_id, registry=self.reg.address, record_id=rid,
            version=version, leaf=leaf, page=1, pages=1,
        )  # fmt: skip
        return rid, encode(payload)

    def revoke(self, rid: bytes, reason: str) -> None:
        from notary.db import repo

        with self.app.state.db.session() as s:
            repo.record_revocation(s, record_id=rid, reason=reason)
            s.commit()
        self.reg.revoke(rid, reason)

    def replace(self, rid: bytes, by: bytes) -> None:
        from notary.db import repo

        with self.app.state.db.session() as s:
            repo.record_replacement(s, record_id=rid, by_record_id=by)
            s.commit()
        self.reg.replace(rid, by)


@pytest.fixture
def node(verifier_registry, tmp_path: Path, db_url: str) -> Iterator[Node]:
    from api.core.settings import Settings
    from api.main import create_app
    from notary.db import repo

    reg = verifier_registry
    app = create_app(
        Settings(data_dir=tmp_path, database_url=db_url, public_base_url="http://testserver")
    )
    app.state.verify_trust = reg.trust()
    app.state.verify_target = VerifyTarget(
        scheme="http", host="testserver", chain_id=reg.chain_id, registry=reg.address
    )
    app.state.verify_connect = RegistryPool()
    app.state.verify_ttl = 0.0
    with TestClient(app) as client:
        with app.state.db.session() as s:
            office = repo.create_office(
                s, office_id=reg.office_id, number=reg.office_number, name="局"
            )
            s.commit()
        yield Node(client, app, reg, office)


def _card(page: str, name: str) -> str:
    found = re.search(rf'<section class="card" id="{name}">(.*?)</section>', page, re.S)
    assert found is not None, name
    return found.group(1)


def test_an_internal_records_page_shows_only_what_the_chain_proves(node: Node) -> None:
    # Any chain reader can build the /v/ URL of an internal record from its events: the page
    # showed its title, its office and the revocation reason the database holds.
    rid, code = node.add(_pdf("internal memo"), "internal", SECRET_TITLE)
    node.revoke(rid, SECRET_REASON)
    page = node.client.get(f"/v/{code}?lang=en").text
    assert 'data-verdict="revoked"' in page
    assert SECRET_TITLE not in page and SECRET_REASON not in page
    assert node.reg.OFFICE_NAME not in page
    assert rid.hex() not in page and rid.hex()[:12] not in page  # not even in the steps
    revoked = _card(page, "revoked")
    assert "Revoked by the office" in revoked
    assert hashlib.sha256(SECRET_REASON.encode()).hexdigest() in revoked  # the chain's hash
    assert "v1" in _card(page, "facts")  # version and dates stay
    assert node.client.get(f"/v/{code}/page.png").status_code == 404
    zh = node.client.get(f"/v/{code}").text
    assert "由发布机关撤销" in zh and SECRET_REASON not in zh


def test_a_record_of_this_registry_the_database_does_not_know_shows_no_office(node: Node) -> None:
    rid, version, leaf = node.reg.anchor(b"anchored elsewhere")
    code = encode(
        QrPayload.for_page(
            chain_id=node.reg.chain_id, registry=node.reg.address, record_id=rid,
            version=version, leaf=leaf,
        )
    )  # fmt: skip
    page = node.client.get(f"/v/{code}").text
    assert 'data-verdict="authentic_current"' in page
    assert node.reg.OFFICE_NAME not in page


def test_restricted_and_public_records_keep_their_public_view(node: Node) -> None:
    rid, code = node.add(_pdf("restricted"), "restricted", "受限公开的名单")
    node.revoke(rid, "名单有误")
    page = node.client.get(f"/v/{code}").text
    assert "受限公开的名单" in page and "名单有误" in page and node.reg.OFFICE_NAME in page
    assert 'id="page-image"' not in page  # the file is for its office only
    assert node.client.get(f"/v/{code}/page.png").status_code == 404
    _, public_code = node.add(_pdf("public"), "public", "公开的预算")
    public_page = node.client.get(f"/v/{public_code}").text
    assert "公开的预算" in public_page and 'id="page-image"' in public_page


def test_an_uploaded_internal_file_shows_neither_title_nor_office(node: Node) -> None:
    data = _pdf("internal upload")
    rid, _ = node.add(data, "internal", SECRET_TITLE)
    r = node.client.post("/verify?lang=en", files={"file": ("x.pdf", data, "application/pdf")})
    assert 'data-verdict="authentic_current"' in r.text
    assert SECRET_TITLE not in r.text and node.reg.OFFICE_NAME not in r.text
    assert rid.hex()[:12] not in r.text
    node.reg.anchor(_pdf("internal upload, v2"), record_id=rid)
    old = node.client.post("/verify", files={"file": ("x.pdf", data, "application/pdf")}).text
    assert 'data-verdict="superseded"' in old
    assert "/v/" not in old  # a link to the current version would carry the record id
    as_json = node.client.post(
        "/verify", files={"file": ("x.pdf", data, "application/pdf")},
        headers={"Accept": "application/json"},
    ).json()  # fmt: skip
    assert as_json["record_id"] is None and as_json["office_name"] is None
    assert as_json["title"] is None and SECRET_TITLE not in json.dumps(as_json)
    assert rid.hex()[:12] not in json.dumps(as_json)


def test_a_public_record_replaced_by_an_internal_one_does_not_name_it(node: Node) -> None:
    old, code = node.add(_pdf("old notice"), "public", "旧通知")
    new, _ = node.add(_pdf("new internal"), "internal", SECRET_TITLE)
    node.replace(old, new)
    page = node.client.get(f"/v/{code}?lang=en").text
    assert 'data-verdict="superseded"' in page
    card = _card(page, "superseded")
    assert "Replaced by another record" in card
    assert new.hex() not in page and new.hex()[:12] not in page
    assert "旧通知" in page  # the public record itself keeps its view


def test_a_public_record_replaced_by_a_public_one_names_it(node: Node) -> None:
    old, code = node.add(_pdf("old notice 2"), "public", "旧通知")
    new, _ = node.add(_pdf("new public"), "public", "新通知")
    node.replace(old, new)
    card = _card(node.client.get(f"/v/{code}?lang=en").text, "superseded")
    assert new.hex() in card and "another record" not in card


# --- upload results show the authentic pages --------------------------------------------------


def _page_images(page: str) -> list[str]:
    found = re.search(r'<section class="card" id="page-image">(.*?)</section>', page, re.S)
    return re.findall(r'<img class="page" src="([^"]+)"', found.group(1)) if found else []


def test_an_upload_matching_a_public_pdf_shows_its_authentic_pages(node: Node) -> None:
    from notary.formats.qr_payload import decode, verify_url
    from notary.pdf.stamp import stamp_pdf

    data = _pdf("二〇二六年度部门预算公开", pages=2)
    _, code = node.add(data, "public", "二〇二六年度部门预算公开")
    payload = decode(code)
    stamped = stamp_pdf(
        data, make_payload=lambda p, n: verify_url("testserver", payload.with_page(p, n))
    )
    for upload in (data, stamped):  # found by its hash, and through its stamp
        r = node.client.post("/verify", files={"file": ("x.pdf", upload, "application/pdf")})
        assert 'data-verdict="authentic_current"' in r.text
        images = _page_images(r.text)
        assert len(images) == 2, r.text
        pngs = [node.client.get(src) for src in images]
        assert all(p.status_code == 200 and p.content.startswith(b"\x89PNG") for p in pngs)
        assert pngs[0].content != pngs[1].content  # page 1 and page 2, not one page twice


@pytest.mark.parametrize("tier", ["restricted", "internal"])
def test_an_upload_matching_a_non_public_file_shows_no_page(node: Node, tier: str) -> None:
    data = _pdf(f"{tier} pages", pages=2)
    node.add(data, tier, "不公开文件的标题")
    r = node.client.post("/verify", files={"file": ("x.pdf", data, "application/pdf")})
    assert 'data-verdict="authentic_current"' in r.text
    assert _page_images(r.text) == [] and "/page.png" not in r.text
