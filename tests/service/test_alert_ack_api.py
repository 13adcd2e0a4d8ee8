"""`POST /api/v1/alerts/{id}/ack` and `notary_alerts_open` on `/metrics`, on SQLite and
PostgreSQL: an auditor acknowledges its own office's alerts with a note; a publisher, an
anonymous caller and another office's auditor cannot; bad input changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support.api_client import Api, make_settings, sql

from api.main import create_app
from notary.audit.alert_store import add_alert
from notary.db.models import Office
from notary.db.session import make_engine, session_factory, unit_of_work


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[Api]:
    settings = make_settings(db_url, tmp_path / "data")
    with TestClient(create_app(settings)) as client:
        yield Api(client, settings)


def _raise(api: Api, office_id: str, rule: str, key: str) -> int:
    engine = make_engine(api.settings.db_url)
    try:
        with unit_of_work(session_factory(engine)) as s:
            office = s.query(Office).filter_by(office_id=office_id).one()
            alert = add_alert(s, rule=rule, key=key, message=f"{rule} {key}", office_pk=office.id)
            assert alert is not None
            return alert.id
    finally:
        engine.dispose()


def _open_metric(api: Api) -> dict[str, float]:
    api.c.app.state.metrics_read_every_s = 0  # read the database on this scrape
    body = api.c.get("/metrics").text
    out = {}
    for line in body.splitlines():
        if line.startswith("notary_alerts_open{"):
            rule = line.split('rule="')[1].split('"')[0]
            out[rule] = float(line.rsplit(" ", 1)[1])
    return out


def test_auditor_acknowledges_own_office_alerts(api: Api) -> None:
    mine, other = api.office(), api.office()
    first = _raise(api, mine.id, "db_chain_mismatch", "a")
    _raise(api, mine.id, "db_chain_mismatch", "b")
    theirs = _raise(api, other.id, "pii_override", "c")
    assert _open_metric(api) == {"db_chain_mismatch": 2, "pii_override": 1}

    url = f"/api/v1/alerts/{first}/ack"
    assert api.c.post(url, json={"note": "x"}).status_code == 401
    assert api.c.post(url, json={"note": "x"}, headers=mine.publisher).status_code == 403
    assert api.c.post(url, json={"note": "x"}, headers=other.auditor).status_code == 404
    assert api.c.post(url, json={"note": ""}, headers=mine.auditor).status_code == 422
    assert api.c.post(url, json={}, headers=mine.auditor).status_code == 422
    assert api.c.post(url, json={"note": "a\x00b"}, headers=mine.auditor).status_code == 422
    assert (
        api.c.post("/api/v1/alerts/0/ack", json={"note": "x"}, headers=mine.auditor).status_code
        == 422
    )
    missing = api.c.post("/api/v1/alerts/999999/ack", json={"note": "x"}, headers=mine.auditor)
    assert missing.status_code == 404 and "999999" in missing.text
    assert sql(api, "SELECT count(*) FROM alerts WHERE acknowledged")[0][0] == 0  # nothing changed

    ok = api.c.post(url, json={"note": "restored the row"}, headers=mine.auditor)
    assert ok.status_code == 200, ok.text
    assert ok.json()["acknowledged"] and ok.json()["ack_note"] == "restored the row"
    assert ok.json()["acknowledged_by"].startswith("key:")
    again = api.c.post(url, json={"note": "twice"}, headers=mine.auditor)
    assert again.status_code == 409
    assert _open_metric(api) == {"db_chain_mismatch": 1, "pii_override": 1}

    listed = api.c.get("/api/v1/alerts?include_acknowledged=false", headers=mine.auditor).json()
    assert first not in [a["id"] for a in listed] and len(listed) == 1
    # The admin key may acknowledge any office's alert.
    admin = api.c.post(f"/api/v1/alerts/{theirs}/ack", json={"note": "ok"}, headers=api.admin)
    assert admin.status_code == 200
    assert _open_metric(api) == {"db_chain_mismatch": 1}
