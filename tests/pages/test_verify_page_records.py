"""The verify page decorated from the office's database: title, reason, public file and
version taken only for this registry's record; uploads looked up by content; a replacing
record named. Real uvicorn and anvil (tests/support/verify_site.py)."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from support.verify_site import CHROMIUM, payload_for, pdf

from notary.formats.qr_payload import QrPayload, encode
from notary.pdf.verify_links import VerifyTarget
from verifier.chainsource import RegistryPool
from verifier.trust import TrustEntry, TrustList

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed")


def test_page_takes_title_reason_and_public_file_from_the_office_database(
    verifier_registry, tmp_path, db_url
):
    """Without an enricher the page reads the office database (title, reason text, the file
    of a public record); the verdict itself still comes from the chain alone. On SQLite and
    PostgreSQL."""
    from fastapi.testclient import TestClient

    from api.core.settings import Settings
    from api.main import create_app
    from notary.db import repo
    from notary.publishing import blobs

    reg = verifier_registry
    budget = pdf("二〇二六年度决算公开", pages=1)
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
            TrustEntry(ours.chain_id, ours.address, "本区域", ours.node_url),
            TrustEntry(other.chain_id, other.address, "其他区域", ours.node_url),
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
