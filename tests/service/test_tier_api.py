"""The JSON API's side of the tiers: what an anonymous or other-office caller learns about a
record is its tier's public view; a non-public record or file that exists answers exactly
like one that does not; invented ids leave no trace in an office's access log. Real app,
real SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support.api_client import Api, make_settings

from api.main import create_app


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[Api]:
    settings = make_settings(db_url, tmp_path / "data")
    with TestClient(create_app(settings)) as client:
        yield Api(client, settings)


def _replaced_by_internal(api: Api) -> tuple[object, dict, dict]:
    office = api.office()
    old = api.published(office, b"public notice")
    new = api.published(office, b"internal replacement", tier="internal")
    r = api.c.post(
        f"/api/v1/records/{old['id']}/supersede", json={"by": new["id"]}, headers=office.publisher
    )
    assert r.status_code == 200, r.text
    assert r.json()["superseded_by"] == new["id"]  # the office itself keeps its answer
    return office, old, new


def test_a_public_record_replaced_by_an_internal_one_hides_its_id(api: Api) -> None:
    office, old, new = _replaced_by_internal(api)
    other = api.office()
    for headers in ({}, other.publisher):
        record = api.c.get(f"/api/v1/records/{old['id']}", headers=headers).json()
        assert record["status"] == "replaced" and record["superseded_by"] is None
        events = api.c.get(f"/api/v1/records/{old['id']}/history", headers=headers).json()
        assert events["events"][-1]["event"] == "supersession"
        assert events["events"][-1]["superseded_by"] is None
        assert events["record"]["superseded_by"] is None
        items = api.c.get("/api/v1/records", headers=headers).json()["items"]
        assert [i["superseded_by"] for i in items if i["id"] == old["id"]] == [None]
        assert new["id"] not in api.c.get("/api/v1/records", headers=headers).text
    mine = api.c.get(f"/api/v1/records/{old['id']}", headers=office.publisher).json()
    assert mine["superseded_by"] == new["id"]
    history = api.c.get(f"/api/v1/records/{old['id']}/history", headers=office.auditor).json()
    assert history["events"][-1]["superseded_by"] == new["id"]


# --- existence oracles ----------------------------------------------------------------------


def _invented_id(office) -> str:
    """A record id of that office's number that no record has."""
    return f"{office.number:08x}" + "ab" * 28


def _answer(r, *ids: str) -> tuple[int, str, str | None, str]:
    """Status, body with the asked-for ids blanked, the auth challenge, the content type."""
    body = r.text
    for i in ids:
        body = body.replace(i, "<id>")
    return r.status_code, body, r.headers.get("www-authenticate"), r.headers["content-type"]


def test_an_internal_record_answers_writes_exactly_like_a_missing_one(api: Api) -> None:
    owner, other = api.office(), api.office()
    secret = api.published(owner, b"internal memo", tier="internal")["id"]
    missing = _invented_id(owner)
    mine = api.published(other, b"other office's record")["id"]

    def calls(rid: str) -> list:
        return [
            lambda h: api.c.post(
                f"/api/v1/records/{rid}/revisions",
                files={"file": ("a.txt", b"hijack", "text/plain")},
                data={"change_note": "x"},
                headers=h,
            ),
            lambda h: api.c.post(
                f"/api/v1/records/{rid}/revisions", data={"change_note": "x"}, headers=h
            ),
            lambda h: api.c.post(f"/api/v1/records/{rid}/revoke", json={"reason": "x"}, headers=h),
            lambda h: api.c.post(f"/api/v1/records/{rid}/supersede", json={"by": mine}, headers=h),
            lambda h: api.c.post(f"/api/v1/records/{mine}/supersede", json={"by": rid}, headers=h),
            lambda h: api.c.post(
                f"/api/v1/certificates/{rid}/revoke", json={"reason": "x"}, headers=h
            ),
            lambda h: api.c.get(f"/api/v1/records/{rid}", headers=h),
            lambda h: api.c.get(f"/api/v1/records/{rid}/history", headers=h),
            lambda h: api.c.get(f"/api/v1/records/{rid}/stamped", headers=h),
            lambda h: api.c.get(f"/api/v1/certificates/{rid}", headers=h),
        ]

    for headers in ({}, other.publisher, other.auditor):
        for n, (exists, absent) in enumerate(zip(calls(secret), calls(missing), strict=True)):
            a, b = exists(headers), absent(headers)
            assert _answer(a, secret, missing) == _answer(b, secret, missing), (n, a.text, b.text)
    # the office itself keeps its answers
    r = api.c.post(f"/api/v1/certificates/{secret}/revoke", json={"reason": "x"},
                   headers=owner.publisher)  # fmt: skip
    assert r.status_code == 404 and "not a certificate" in r.json()["detail"]
    assert api.c.get(f"/api/v1/records/{secret}", headers=owner.auditor).status_code == 200


def test_an_internal_file_answers_exactly_like_a_missing_one(api: Api) -> None:
    import hashlib

    owner, other = api.office(), api.office()
    api.published(owner, b"internal attachment", tier="internal")
    exists = hashlib.sha256(b"internal attachment").hexdigest()
    missing = hashlib.sha256(b"never published").hexdigest()
    for headers in ({}, other.publisher, other.auditor, api.admin):
        a = api.c.get(f"/api/v1/files/{exists}", headers=headers)
        b = api.c.get(f"/api/v1/files/{missing}", headers=headers)
        assert a.status_code == 404
        assert _answer(a, exists, missing) == _answer(b, exists, missing)
    own = api.c.get(f"/api/v1/files/{exists}", headers=owner.publisher)
    assert own.status_code == 403 and "internal" in own.json()["detail"]


# --- access-log noise -----------------------------------------------------------------------


def _log_entries(api: Api) -> int:
    from support.api_client import sql

    api.c.app.state.refusals.flush()  # refusals are written off the request path
    return sql(api, "SELECT count(*) FROM access_log")[0][0]


def _unresolved(api: Api, action: str) -> float:
    import re

    text = api.c.get("/metrics").text
    found = re.search(rf'^notary_access_refused_total{{action="{action}"}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def test_reads_of_invented_ids_leave_no_entry_in_an_offices_log(api: Api) -> None:
    office = api.office()
    real = api.published(office, b"a real public record")["id"]
    before, counted = _log_entries(api), _unresolved(api, "read")
    prefix = f"{office.number:08x}"
    for n in range(500):  # ids of the office's number that no record has
        rid = prefix + f"{n:056x}"
        assert api.c.get(f"/api/v1/records/{rid}").status_code == 404
    assert _log_entries(api) == before
    assert _unresolved(api, "read") == counted + 500
    assert api.c.get(f"/api/v1/records/{real}").status_code == 200
    assert _log_entries(api) == before + 1
    history = api.c.get(f"/api/v1/records/{prefix}{'cd' * 28}/history")
    stamped = api.c.get(f"/api/v1/records/{prefix}{'cd' * 28}/stamped")
    assert history.status_code == stamped.status_code == 404
    assert _log_entries(api) == before + 1


def test_a_refused_read_of_a_real_internal_record_is_still_logged(api: Api) -> None:
    # The office learns that someone asked for its internal record; the caller gets the
    # answer for a missing one.
    office = api.office()
    secret = api.published(office, b"internal, but asked for", tier="internal")["id"]
    before = _log_entries(api)
    assert api.c.get(f"/api/v1/records/{secret}").status_code == 404
    assert _log_entries(api) == before + 1
