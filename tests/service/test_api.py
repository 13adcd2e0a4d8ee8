"""HTTP API suite: real app, real SQLite and PostgreSQL, real files in temp dirs."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.exc import TimeoutError as PoolTimeout
from support.api_client import (
    MD,
    Api,
    bearer,
    make_settings,
    sql,
    valid_resident_id,
)

from api.core.settings import DEMO_ADMIN_KEY, Settings
from api.main import create_app
from api.services import records as svc
from notary.db.session import SQLITE_POOL_SIZE

# --- settings and health ------------------------------------------------------------------


def test_production_refuses_demo_key_and_debug(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="demo admin key"):
        Settings(
            mode="production", data_dir=tmp_path, admin_key=DEMO_ADMIN_KEY, key_secret="s" * 40
        )
    with pytest.raises(ValueError, match="debug"):
        Settings(
            mode="production",
            data_dir=tmp_path,
            admin_key="a" * 30,
            key_secret="s" * 40,
            debug=True,
        )
    with pytest.raises(ValueError, match="KEY_SECRET"):
        Settings(mode="production", data_dir=tmp_path, admin_key="a" * 30)
    safe = {"admin_key": "a" * 30, "key_secret": "s" * 40}
    for local in ("http://127.0.0.1:8000", "https://localhost", "http://[::1]:8000", "x"):
        with pytest.raises(ValueError, match="PUBLIC_BASE_URL"):  # printed in every QR code
            Settings(mode="production", data_dir=tmp_path, public_base_url=local, **safe)
    ok = Settings(
        mode="production", data_dir=tmp_path, public_base_url="https://notary.gov.example", **safe
    )
    assert ok.db_url.startswith("sqlite:///") and ok.max_upload_bytes == 50 * 1024 * 1024


@pytest.mark.parametrize(
    ("field", "value"),
    [("verify_concurrency", v) for v in ["0", "-1", "257", "abc", ""]]
    + [("key_cache_seconds", v) for v in ["-1", "61", "abc", "nan", "inf"]]
    + [("db_wait_seconds", v) for v in ["0", "-1", "301", "abc", "nan", "inf"]]
    + [("db_pool_size", v) for v in ["0", "-1", "1001", "abc", "1.5"]],
)
def test_tuning_settings_out_of_range_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, field: str, value: str
) -> None:
    monkeypatch.setenv(f"NOTARY_{field.upper()}", value)
    with pytest.raises(ValueError, match=field):
        Settings(data_dir=tmp_path)


def test_health_and_ready(api: Api) -> None:
    assert api.c.get("/healthz").json() == {"status": "ok"}
    assert api.c.get("/readyz").status_code == 200


# --- keys and roles -----------------------------------------------------------------------


def test_key_is_shown_once_and_stored_hashed(api: Api) -> None:
    office = api.office()
    listed = api.c.get(f"/api/v1/offices/{office.id}/keys", headers=api.admin).json()
    assert listed and all("key" not in k for k in listed)
    plain = office.publisher["Authorization"].split()[1]
    rows = sql(api, "SELECT key_hash FROM api_keys")
    assert all(plain not in r[0] for r in rows)


def test_a_revocation_waits_for_writes_that_checked_the_key(api: Api) -> None:
    office = api.office()
    key_id = int(office.publisher_key_id)
    revoked: list[int] = []
    with api.c.app.state.db.session() as writes:  # a publish batch, between check and commit
        assert svc.live_keys(writes, [key_id]) == {key_id}
        url = f"/api/v1/offices/{office.id}/keys/{key_id}/revoke"
        revoke = threading.Thread(
            target=lambda: revoked.append(api.c.post(url, headers=api.admin).status_code)
        )
        revoke.start()
        revoke.join(0.5)
        assert revoke.is_alive() and not revoked, "revoked while a write still relied on the key"
        writes.commit()
    revoke.join(10)
    assert revoked == [200]
    assert api.publish(office).status_code == 401


def test_revoked_key_is_refused(api: Api) -> None:
    office = api.office()
    assert api.publish(office).status_code == 201
    r = api.c.post(
        f"/api/v1/offices/{office.id}/keys/{office.publisher_key_id}/revoke", headers=api.admin
    )
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert api.publish(office).status_code == 401


def test_wrong_or_missing_key(api: Api) -> None:
    assert api.c.get("/api/v1/offices").status_code == 401
    assert api.c.get("/api/v1/offices", headers=bearer("nk_000000000000_nope")).status_code == 401
    office = api.office()
    assert api.c.get("/api/v1/offices", headers=office.publisher).status_code == 403
    assert api.c.get("/api/v1/offices", headers=office.auditor).status_code == 403
    r = api.c.post(
        "/api/v1/records",
        files={"file": ("a.txt", b"x", "text/plain")},
        data={"metadata": json.dumps(MD)},
        headers=office.auditor,
    )
    assert r.status_code == 403
    r = api.c.post(
        "/api/v1/records",
        files={"file": ("a.txt", b"x", "text/plain")},
        data={"metadata": json.dumps(MD)},
        headers=api.admin,
    )
    assert r.status_code == 403


def test_suspended_office_cannot_publish(api: Api) -> None:
    office = api.office()
    assert api.c.post(f"/api/v1/offices/{office.id}/suspend", headers=api.admin).status_code == 200
    assert api.publish(office).status_code == 403
    assert api.c.post(f"/api/v1/offices/{office.id}/resume", headers=api.admin).status_code == 200
    assert api.publish(office).status_code == 201


def test_signers_need_a_chain_config(api: Api) -> None:
    office = api.office()
    r = api.c.get(f"/api/v1/offices/{office.id}/signers", headers=api.admin)
    assert r.status_code == 503 and "chain config" in r.json()["detail"]
    assert (
        api.c.get(f"/api/v1/offices/{office.id}/signers", headers=office.publisher).status_code
        == 403
    )
    assert api.c.get(f"/api/v1/offices/{'ab' * 32}/signers", headers=api.admin).status_code == 404


def test_duplicate_office_is_409(api: Api) -> None:
    office = api.office()
    r = api.c.post(
        "/api/v1/offices",
        json={"office_id": office.id, "number": 99, "name": "x"},
        headers=api.admin,
    )
    assert r.status_code == 409


# --- records ------------------------------------------------------------------------------


def test_publish_get_history_and_search(api: Api) -> None:
    office = api.office()
    rec = api.published(office, b"budget figures")
    assert rec["status"] == "current" and rec["current"]["anchor_state"] == "pending"
    assert rec["current"]["content_hash"] == hashlib.sha256(b"budget figures").hexdigest()
    assert rec["id"][:8] == f"{office.number:08x}"
    got = api.c.get(f"/api/v1/records/{rec['id']}").json()
    assert got["current"]["metadata_hash"] == rec["current"]["metadata_hash"]
    other = api.published(
        office,
        b"guide",
        md={**MD, "title": "Service guide", "category": "guide", "publication_date": "2025-06-01"},
    )
    found = api.c.get("/api/v1/records", params={"category": "budget"}).json()
    assert [r["id"] for r in found["items"]] == [rec["id"]]
    found = api.c.get("/api/v1/records", params={"q": "guide"}).json()
    assert [r["id"] for r in found["items"]] == [other["id"]]
    found = api.c.get("/api/v1/records", params={"from": "2026-01-01", "to": "2026-12-31"}).json()
    assert [r["id"] for r in found["items"]] == [rec["id"]]
    found = api.c.get("/api/v1/records", params={"office": office.id}).json()
    assert found["total"] == 2
    hist = api.c.get(f"/api/v1/records/{rec['id']}/history").json()
    assert [e["event"] for e in hist["events"]] == ["revision"]


def _statements(api: Api, path: str) -> tuple[dict, int]:
    """GET `path`: its JSON and the number of SQL statements it ran."""
    seen: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        seen.append(statement)

    engine = api.c.app.state.db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        r = api.c.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert r.status_code == 200, r.text
    return r.json(), len(seen)


def test_reads_cost_the_same_queries_however_many_rows(api: Api) -> None:
    office = api.office()
    first = api.published(office, b"first")["id"]
    _, search_one = _statements(api, "/api/v1/records")
    _, history_one = _statements(api, f"/api/v1/records/{first}/history")
    _, read_one = _statements(api, f"/api/v1/records/{first}")
    ids = [api.published(office, f"release {i}".encode())["id"] for i in range(4)]
    for n in (2, 3):
        r = api.c.post(
            f"/api/v1/records/{first}/revisions",
            files={"file": ("a.txt", f"first v{n}".encode(), "text/plain")},
            data={"change_note": f"v{n}"},
            headers=office.publisher,
        )
        assert r.status_code == 201, r.text
    r = api.c.post(
        f"/api/v1/records/{ids[0]}/revoke", json={"reason": "withdrawn"}, headers=office.publisher
    )
    assert r.status_code == 200, r.text

    page, search_many = _statements(api, "/api/v1/records")
    history, history_many = _statements(api, f"/api/v1/records/{first}/history")
    record, read_many = _statements(api, f"/api/v1/records/{first}")
    assert (search_many, history_many, read_many) == (search_one, history_one, read_one)
    # ... and the rows loaded together are each record's own.
    items = {i["id"]: i for i in page["items"]}
    assert len(items) == 5
    assert items[first]["current_version"] == 3
    assert items[first]["current"]["content_hash"] == hashlib.sha256(b"first v3").hexdigest()
    assert items[first]["current"]["size"] == len(b"first v3")
    assert items[ids[0]]["revocation_reason"] == "withdrawn"
    assert items[ids[1]]["current"]["content_hash"] == hashlib.sha256(b"release 1").hexdigest()
    assert all(i["office_id"] == office.id for i in items.values())
    assert [e["revision"]["size"] for e in history["events"]] == [5, 8, 8]
    assert history["record"] == record == items[first]


def test_revise_then_duplicate_content_is_409(api: Api) -> None:
    office = api.office()
    rec = api.published(office, b"v1")
    url = f"/api/v1/records/{rec['id']}/revisions"
    r = api.c.post(
        url,
        files={"file": ("a.txt", b"v2", "text/plain")},
        data={"change_note": "fix typo"},
        headers=office.publisher,
    )
    assert r.status_code == 201 and r.json()["current_version"] == 2
    r = api.c.post(
        url,
        files={"file": ("a.txt", b"v2", "text/plain")},
        data={"change_note": "again"},
        headers=office.publisher,
    )
    assert r.status_code == 409
    r = api.c.post(
        url,
        data={"change_note": "title", "metadata": json.dumps({"title": "New"})},
        headers=office.publisher,
    )
    assert r.status_code == 201 and r.json()["title"] == "New" and r.json()["current_version"] == 3
    hist = api.c.get(f"/api/v1/records/{rec['id']}/history").json()
    notes = [e["revision"]["change_note"] for e in hist["events"]]
    assert notes == [None, "fix typo", "title"]
    assert sql(api, "SELECT count(*) FROM revisions")[0][0] == 3


def test_revoke_records_reason_hash_and_blocks_revision(api: Api) -> None:
    office = api.office()
    rec = api.published(office)
    r = api.c.post(
        f"/api/v1/records/{rec['id']}/revoke",
        json={"reason": "wrong figures"},
        headers=office.publisher,
    )
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    hist = api.c.get(f"/api/v1/records/{rec['id']}/history").json()
    revocation = hist["events"][-1]
    assert revocation["event"] == "revocation" and revocation["reason"] == "wrong figures"
    assert revocation["reason_hash"] == hashlib.sha256(b"wrong figures").hexdigest()
    assert revocation["anchor_state"] == "pending"
    r = api.c.post(
        f"/api/v1/records/{rec['id']}/revisions",
        files={"file": ("a.txt", b"other", "text/plain")},
        data={"change_note": "x"},
        headers=office.publisher,
    )
    assert r.status_code == 409
    again = api.c.post(
        f"/api/v1/records/{rec['id']}/revoke", json={"reason": "x"}, headers=office.publisher
    )
    assert again.status_code == 409


def test_supersede_by_another_record(api: Api) -> None:
    office = api.office()
    old, new = api.published(office, b"old"), api.published(office, b"new")
    r = api.c.post(
        f"/api/v1/records/{old['id']}/supersede", json={"by": new["id"]}, headers=office.publisher
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "replaced" and r.json()["superseded_by"] == new["id"]
    hist = api.c.get(f"/api/v1/records/{old['id']}/history").json()
    assert hist["events"][-1]["event"] == "supersession"
    assert hist["events"][-1]["superseded_by"] == new["id"]


def test_cross_office_writes_are_refused(api: Api) -> None:
    a, b = api.office(), api.office()
    rec = api.published(a, b"of office a")
    mine = api.published(b, b"of office b")
    base = f"/api/v1/records/{rec['id']}"
    r = api.c.post(
        f"{base}/revisions",
        files={"file": ("a.txt", b"hijack", "text/plain")},
        data={"change_note": "x"},
        headers=b.publisher,
    )
    assert r.status_code == 403
    assert (
        api.c.post(f"{base}/revoke", json={"reason": "x"}, headers=b.publisher).status_code == 403
    )
    r = api.c.post(f"{base}/supersede", json={"by": mine["id"]}, headers=b.publisher)
    assert r.status_code == 403
    r = api.c.post(
        f"/api/v1/records/{mine['id']}/supersede", json={"by": rec["id"]}, headers=b.publisher
    )
    assert r.status_code == 403
    after = api.c.get(base).json()
    assert after["status"] == "current" and after["current_version"] == 1


# --- access tiers -------------------------------------------------------------------------

TIER_MATRIX = {
    # caller: (public, restricted, internal) file status; an internal file is, to anyone
    # but its office, a file no record holds
    "anonymous": (200, 401, 404),
    "own_publisher": (200, 200, 403),
    "own_auditor": (200, 200, 403),
    "other_publisher": (200, 403, 404),
    "other_auditor": (200, 403, 404),
    "admin": (200, 403, 404),
}


@pytest.mark.parametrize("caller", sorted(TIER_MATRIX))
def test_files_honour_access_tier_for_each_role(api: Api, caller: str) -> None:
    own, other = api.office(), api.office()
    headers = {
        "anonymous": {},
        "own_publisher": own.publisher,
        "own_auditor": own.auditor,
        "other_publisher": other.publisher,
        "other_auditor": other.auditor,
        "admin": api.admin,
    }[caller]
    for tier, expected in zip(
        ("public", "restricted", "internal"), TIER_MATRIX[caller], strict=True
    ):
        body = f"{tier} file".encode()
        rec = api.published(own, body, tier=tier)
        r = api.c.get(f"/api/v1/files/{hashlib.sha256(body).hexdigest()}", headers=headers)
        assert r.status_code == expected, (tier, r.text)
        if expected == 200:
            assert r.content == body
            # The office's bytes are a download from the service's origin, never a page it
            # runs; a restricted one stays out of caches.
            assert r.headers["content-disposition"].startswith("attachment")
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["content-security-policy"] == "sandbox"
            cache = "public" if tier == "public" else "no-store"
            assert cache in r.headers["cache-control"]
        else:
            assert "detail" in r.json()
        meta = api.c.get(f"/api/v1/records/{rec['id']}", headers=headers)
        sees_internal = caller.startswith("own_")
        assert meta.status_code == (404 if tier == "internal" and not sees_internal else 200)


# --- idempotency --------------------------------------------------------------------------


def test_idempotent_publish_returns_first_result(api: Api) -> None:
    office = api.office()
    first = api.publish(office, b"once", headers={"Idempotency-Key": "k-1"})
    again = api.publish(office, b"once", headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert sql(api, "SELECT count(*) FROM records")[0][0] == 1
    clash = api.publish(office, b"different", headers={"Idempotency-Key": "k-1"})
    assert clash.status_code == 409
    assert sql(api, "SELECT count(*) FROM revisions")[0][0] == 1


def test_idempotent_revision_never_creates_a_second_revision(api: Api) -> None:
    office = api.office()
    rec = api.published(office, b"v1")
    url = f"/api/v1/records/{rec['id']}/revisions"
    hdrs = {**office.publisher, "Idempotency-Key": "rev-2"}
    args = {"files": {"file": ("a.txt", b"v2", "text/plain")}, "data": {"change_note": "n"}}
    r1 = api.c.post(url, headers=hdrs, **args)
    r2 = api.c.post(url, headers=hdrs, **args)
    assert r1.status_code == r2.status_code == 201 and r1.json() == r2.json()
    assert sql(api, "SELECT count(*) FROM revisions")[0][0] == 2


# --- error paths --------------------------------------------------------------------------


def test_upload_over_limit_is_413(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(db_url, tmp_path / "data", max_upload_bytes=1000)
    with TestClient(create_app(settings)) as client:
        api = Api(client, settings)
        office = api.office()
        assert api.publish(office, b"x" * 1000).status_code == 201
        r = api.publish(office, b"y" * 1001)
        assert r.status_code == 413 and "limit" in r.json()["detail"]
        huge = api.publish(office, b"z" * 400_000)
        assert huge.status_code == 413 and "detail" in huge.json()
        assert sql(api, "SELECT count(*) FROM records")[0][0] == 1


def test_declared_length_over_limit_is_refused_before_reading(api: Api) -> None:
    office = api.office()
    limit = api.settings.max_upload_bytes

    def body():  # a generator: the server must answer before consuming it
        yield b"--x\r\n"
        raise AssertionError("body was read")

    r = api.c.post(
        "/api/v1/records",
        content=body(),
        headers={
            **office.publisher,
            "Content-Type": "multipart/form-data; boundary=x",
            "Content-Length": str(limit * 2),
        },
    )
    assert r.status_code == 413


def test_wrong_content_type_is_415(api: Api) -> None:
    office = api.office()
    assert api.publish(office, b"\x89PNG....", ctype="image/png").status_code == 415
    assert api.publish(office, b"not a pdf", ctype="application/pdf").status_code == 415


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/records/" + "ab" * 32,
        "/api/v1/records/not-an-id",
        "/api/v1/records/" + "ab" * 32 + "/history",
        "/api/v1/files/" + "cd" * 32,
        "/api/v1/files/xyz",
        "/api/v1/receipts/987654",
        "/api/v1/certificates/" + "ab" * 32,
    ],
)
def test_unknown_ids_are_404(api: Api, path: str) -> None:
    r = api.c.get(path)
    assert r.status_code == 404 and "detail" in r.json()


def test_bad_metadata_is_400_and_changes_nothing(api: Api) -> None:
    office = api.office()
    assert api.publish(office, md={**MD, "publication_date": "2026-13-40"}).status_code == 400
    assert api.publish(office, md={**MD, "bogus": 1}).status_code == 400
    r = api.c.post(
        "/api/v1/records",
        files={"file": ("a.txt", b"x", "text/plain")},
        data={"metadata": "{not json"},
        headers=office.publisher,
    )
    assert r.status_code == 400
    assert sql(api, "SELECT count(*) FROM records")[0][0] == 0


# --- PII guard ----------------------------------------------------------------------------


def test_pii_blocks_with_masked_previews(api: Api) -> None:
    office = api.office()
    rid = valid_resident_id()
    r = api.publish(office, f"联系人身份证号 {rid}。".encode())
    assert r.status_code == 422
    body = r.json()
    assert body["findings"] and body["findings"][0]["kind"] == "id_card"
    assert rid not in r.text and "*" in body["findings"][0]["masked_preview"]
    assert sql(api, "SELECT count(*) FROM records")[0][0] == 0


def test_pii_invalid_check_digit_is_not_blocked(api: Api) -> None:
    office = api.office()
    good = valid_resident_id()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert api.publish(office, f"编号 {bad}".encode()).status_code == 201


def test_pii_mask_publishes_masked_bytes(api: Api) -> None:
    office = api.office()
    rid = valid_resident_id()
    original = f"联系人身份证号 {rid}。".encode()
    r = api.publish(office, original, mask="true")
    assert r.status_code == 201, r.text
    stored = api.c.get(f"/api/v1/files/{r.json()['current']['content_hash']}").content
    assert (
        rid.encode() not in stored
        and hashlib.sha256(stored).hexdigest() == r.json()["current"]["content_hash"]
    )
    assert r.json()["current"]["content_hash"] != hashlib.sha256(original).hexdigest()


def test_pii_override_is_recorded(api: Api) -> None:
    office = api.office()
    r = api.publish(
        office,
        f"持卡人 {valid_resident_id()}".encode(),
        pii_override_reason="court order 2026-17 requires the full number",
    )
    assert r.status_code == 201, r.text
    rows = sql(api, "SELECT reason, findings FROM pii_overrides")
    assert len(rows) == 1 and rows[0][0].startswith("court order")


# --- certificates -------------------------------------------------------------------------


def test_a_certificate_cannot_be_revised_nor_its_holder_reference_set(api: Api) -> None:
    # Its content is a salted commitment and its metadata names the holder data's blob: a
    # revision could publish an unsalted hash, or point the holder read at another file.
    a, b = api.office(), api.office()
    secret = api.published(a, b"0" * 32 + b'{"salary": "98765"}', tier="restricted")
    sha = secret["current"]["content_hash"]
    r = api.c.post(
        "/api/v1/certificates",
        data={"holder": json.dumps({"name": "Zhang"}), "metadata": json.dumps(MD)},
        headers=b.publisher,
    )
    assert r.status_code == 201, r.text
    cert = r.json()["record"]["id"]
    url = f"/api/v1/records/{cert}/revisions"
    attempts = [
        {
            "data": {
                "change_note": "x",
                "metadata": json.dumps({"extra": {"holder_commitment": sha}}),
            }
        },
        {"data": {"change_note": "x", "metadata": json.dumps({"extra": {}})}},
        {"data": {"change_note": "x"}, "files": {"file": ("a.txt", b"plain", "text/plain")}},
    ]
    blobs_before = sorted(api.settings.blobs.rglob("*"))
    for attempt in attempts:
        r = api.c.post(url, headers=b.publisher, **attempt)
        assert r.status_code == 409 and "certificate" in r.json()["detail"], r.text
    assert sorted(api.settings.blobs.rglob("*")) == blobs_before
    assert api.c.get(f"/api/v1/certificates/{cert}", headers=b.auditor).json()["holder"] == {
        "name": "Zhang"
    }
    for extra in ({"holder_commitment": sha}, {"valid_from": "garbage"}, [1, 2]):
        r = api.c.post(
            "/api/v1/certificates",
            data={"holder": '{"name": "Li"}', "metadata": json.dumps({**MD, "extra": extra})},
            headers=b.publisher,
        )
        assert r.status_code == 400 and "extra" in r.json()["detail"], r.text


def test_concurrent_refused_revisions_are_each_answered(api: Api) -> None:
    # Each refusal is logged in a transaction of its own; run on the event loop, that waited
    # for SQLite's write lock held by another refused request's thread, which needed the
    # loop to finish: every request stalled for the 30 s busy timeout, then got a 503.
    a, b = api.office(), api.office()
    rid = api.published(a)["id"]
    start = threading.Barrier(4)

    def attempt(i: int) -> int:
        start.wait()
        return api.c.post(
            f"/api/v1/records/{rid}/revisions",
            data={"change_note": "n", "metadata": json.dumps({"title": f"x{i}"})},
            headers=b.publisher,
        ).status_code

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(attempt, range(4))) == [403] * 4


def test_certificate_salt_is_shown_once_and_holder_only_to_issuer(api: Api) -> None:
    a, b = api.office(), api.office()
    holder = {"name": "张三", "id_number": valid_resident_id(), "licence": "BL-2026-001"}
    r = api.c.post(
        "/api/v1/certificates",
        data={
            "holder": json.dumps(holder),
            "metadata": json.dumps({**MD, "title": "Licence"}),
            "valid_until": "2031-01-01T00:00:00Z",
        },
        headers=a.publisher,
    )
    assert r.status_code == 201, r.text
    issued = r.json()
    salt = bytes.fromhex(issued["salt"])
    assert len(salt) == 32
    # On chain: sha256(salt || the certificate document); the document (rendered by the
    # service, holder data masked on its face) is served to the issuing office only.
    commitment = issued["record"]["current"]["content_hash"]
    assert issued["record"]["kind"] == "certificate"
    cid = issued["record"]["id"]
    mine = api.c.get(f"/api/v1/certificates/{cid}", headers=a.auditor).json()
    assert mine["holder"] == holder and "salt" not in mine
    for headers in ({}, b.publisher, api.admin):
        theirs = api.c.get(f"/api/v1/certificates/{cid}", headers=headers)
        assert theirs.status_code == 200 and theirs.json()["holder"] is None
        assert issued["salt"] not in theirs.text
    document = api.c.get(f"/api/v1/files/{commitment}", headers=a.auditor)
    assert document.status_code == 200
    assert hashlib.sha256(salt + document.content).hexdigest() == commitment
    assert holder["id_number"].encode() not in document.content  # masked on its face
    for headers in ({}, b.publisher):
        assert api.c.get(f"/api/v1/files/{commitment}", headers=headers).status_code in (401, 403)


# --- receipts -----------------------------------------------------------------------------


def test_receipt_pending_then_anchored(api: Api) -> None:
    office = api.office()
    rec = api.published(office)
    rev_id = rec["current"]["id"]
    r = api.c.get(f"/api/v1/receipts/{rev_id}", params={"wait": 0.3}, headers=office.auditor)
    assert r.status_code == 200 and r.json()["state"] == "pending"
    sql(
        api,
        "UPDATE revisions SET anchor_state='anchored', tx_hash=:tx, block_number=7, leaf=:leaf "
        "WHERE id=:id",
        tx="aa" * 32,
        leaf="bb" * 32,
        id=int(rev_id),
    )
    r = api.c.get(f"/api/v1/receipts/{rev_id}", params={"wait": 5}, headers=office.auditor).json()
    assert r["state"] == "anchored" and r["tx_hash"] == "aa" * 32 and r["block_number"] == 7
    assert r["leaf"] == "bb" * 32


def test_a_refused_file_is_logged_for_every_office_that_holds_it(api: Api) -> None:
    a, b = api.office(), api.office()
    body = b"the same restricted bytes"
    for office in (a, b):
        api.published(office, body, tier="restricted")
    assert api.c.get(f"/api/v1/files/{hashlib.sha256(body).hexdigest()}").status_code == 401
    for office in (a, b):
        log = api.c.get("/api/v1/access-log", headers=office.auditor).json()["items"]
        assert ("file", "401") in [(e["action"], e["outcome"]) for e in log]


def test_receipts_are_logged_and_a_failed_one_ends_the_wait(api: Api) -> None:
    office, other = api.office(), api.office()
    internal = api.published(office, b"internal notice", tier="internal")
    rev_id = internal["current"]["id"]
    assert api.c.get(f"/api/v1/receipts/{rev_id}", headers=office.auditor).status_code == 200
    assert api.c.get(f"/api/v1/receipts/{rev_id}", headers=other.publisher).status_code == 404
    log = api.c.get("/api/v1/access-log", headers=office.auditor).json()["items"]
    receipts = [(e["action"], e["outcome"]) for e in log if e["action"] == "receipt"]
    assert receipts == [("receipt", "ok"), ("receipt", "404")]
    sql(
        api,
        "UPDATE revisions SET anchor_state='failed', anchor_error='x' WHERE id=:id",
        id=int(rev_id),
    )
    waited = time.monotonic()  # the cap is 30 s: a failed revision never changes by itself
    r = api.c.get(f"/api/v1/receipts/{rev_id}", params={"wait": 30}, headers=office.auditor)
    assert r.json()["state"] == "failed" and time.monotonic() - waited < 10


# --- access log ---------------------------------------------------------------------------


def test_access_log_chain_verifies_and_detects_tampering(api: Api) -> None:
    office = api.office()
    rec = api.published(office)
    api.c.get(f"/api/v1/records/{rec['id']}")
    api.c.get(f"/api/v1/records/{rec['id']}/history", headers=office.auditor)
    api.c.post(
        f"/api/v1/records/{rec['id']}/revoke", json={"reason": "x"}, headers=api.office().publisher
    )
    log = api.c.get("/api/v1/access-log", headers=office.auditor).json()
    actions = [(e["action"], e["outcome"]) for e in log["items"]]
    assert actions == [("publish", "ok"), ("read", "ok"), ("history", "ok"), ("revoke", "403")]
    assert log["items"][0]["key_id"] and log["items"][1]["key_id"] is None
    assert api.c.get("/api/v1/access-log", headers=office.publisher).status_code == 403
    ok = api.c.get("/api/v1/access-log/verify", headers=office.auditor).json()
    assert ok["ok"] and ok["entries"] == 4 and ok["head"] == log["head"]
    sql(api, "UPDATE access_log SET outcome='ok' WHERE seq=4")
    bad = api.c.get("/api/v1/access-log/verify", headers=office.auditor).json()
    assert not bad["ok"] and bad["first_bad_seq"] == 4
    sql(api, "UPDATE access_log SET outcome='403' WHERE seq=4")
    sql(api, "DELETE FROM access_log WHERE seq=2")
    gone = api.c.get("/api/v1/access-log/verify", headers=office.auditor).json()
    assert not gone["ok"] and gone["first_bad_seq"] == 2


def test_streamed_body_over_limit_is_413_without_content_length(
    db_url: str, tmp_path: Path
) -> None:
    settings = make_settings(db_url, tmp_path / "data", max_upload_bytes=1000)
    with TestClient(create_app(settings)) as client:
        api = Api(client, settings)
        office = api.office()

        def chunks():
            yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
            yield b"Content-Type: text/plain\r\n\r\n"
            for _ in range(200):
                yield b"a" * 1024

        r = client.post(
            "/api/v1/records",
            content=chunks(),
            headers={**office.publisher, "Content-Type": "multipart/form-data; boundary=x"},
        )
        assert r.status_code == 413 and "detail" in r.json()


def test_certificate_revoke_and_refused_file_fetch_is_logged(api: Api) -> None:
    office, other = api.office(), api.office()
    issued = api.c.post(
        "/api/v1/certificates",
        data={"holder": json.dumps({"name": "李四"}), "metadata": json.dumps(MD)},
        headers=office.publisher,
    ).json()
    cid = issued["record"]["id"]
    r = api.c.post(
        f"/api/v1/certificates/{cid}/revoke",
        json={"reason": "licence withdrawn"},
        headers=other.publisher,
    )
    assert r.status_code == 403
    r = api.c.post(
        f"/api/v1/certificates/{cid}/revoke",
        json={"reason": "licence withdrawn"},
        headers=office.publisher,
    )
    assert r.status_code == 200 and r.json()["record"]["status"] == "revoked"
    body = b"restricted content"
    api.published(office, body, tier="restricted")
    assert api.c.get(f"/api/v1/files/{hashlib.sha256(body).hexdigest()}").status_code == 401
    log = api.c.get("/api/v1/access-log", headers=office.auditor).json()["items"]
    assert [(e["action"], e["outcome"]) for e in log][-4:] == [
        ("revoke", "403"),
        ("revoke", "ok"),
        ("publish", "ok"),
        ("file", "401"),
    ]
    assert api.c.get("/api/v1/access-log/verify", headers=office.auditor).json()["ok"]


def test_no_free_database_connection_is_a_503_not_a_500(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(db_url, tmp_path / "data", db_wait_seconds=0.2, db_pool_size=3)
    with TestClient(create_app(settings)) as client:
        engine = client.app.state.db.engine
        held = []
        try:
            while True:  # every connection the app's pool may hand out, busy
                held.append(engine.connect())
        except PoolTimeout:
            pass
        # PostgreSQL: the configured bound, no overflow. SQLite: one per request thread.
        assert len(held) == (SQLITE_POOL_SIZE if db_url.startswith("sqlite") else 3)
        try:
            r = client.get("/api/v1/records")
            assert r.status_code == 503, r.text
            assert "no connection" in r.json()["detail"]
        finally:
            for conn in held:
                conn.close()
        assert client.get("/api/v1/records").status_code == 200
