"""The JSON API's side of the tiers: what an anonymous or other-office caller learns about a
record is its tier's public view; a non-public record or file that exists answers exactly
like one that does not; invented ids leave no trace in an office's access log. Real app,
real SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import db_fixtures
import pytest
from fastapi.testclient import TestClient
from test_api import Api, make_settings

from api.main import create_app

db_url = db_fixtures.db_url
pg_database = db_fixtures.pg_database
sqlite_template = db_fixtures.sqlite_template


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
