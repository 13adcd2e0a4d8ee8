"""HTTP API: certificates, receipts and the access log.

Real app, real SQLite and PostgreSQL, real files in temp dirs.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from support.api_client import (
    MD,
    Api,
    sql,
    valid_resident_id,
)

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
