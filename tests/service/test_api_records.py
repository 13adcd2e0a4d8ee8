"""HTTP API: records (publish, read, revise, revoke, supersede), access tiers, idempotency.

Real app, real SQLite and PostgreSQL, real files in temp dirs.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import event
from support.api_client import (
    MD,
    Api,
    sql,
)

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


def test_a_document_number_is_found_exactly_case_included(api: Api) -> None:
    office = api.office()
    upper = api.published(office, b"upper", md={**MD, "extra": {"document_number": "C-1"}})
    lower = api.published(office, b"lower", md={**MD, "extra": {"document_number": "c-1"}})

    def ids(number: str) -> list[str]:
        r = api.c.get("/api/v1/records", params={"number": number})
        assert r.status_code == 200, r.text
        return [item["id"] for item in r.json()["items"]]

    assert ids("C-1") == [upper["id"]]
    assert ids("c-1") == [lower["id"]]
    assert ids("C-") == [] and ids("c_1") == []  # neither a prefix nor a LIKE pattern
